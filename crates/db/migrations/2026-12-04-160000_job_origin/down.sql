ALTER TABLE jobs DROP COLUMN request_id, DROP COLUMN traceparent;
