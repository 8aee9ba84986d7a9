-- The request a job was enqueued by: its log lines carry the request's id, and its
-- trace continues the request's (W3C traceparent of the enqueuing span).
ALTER TABLE jobs ADD COLUMN request_id text, ADD COLUMN traceparent text;
