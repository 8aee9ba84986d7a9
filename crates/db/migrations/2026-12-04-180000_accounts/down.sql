DROP TRIGGER api_tokens_notify_user_deleted ON api_tokens;
DROP TRIGGER api_tokens_notify_user_changed ON api_tokens;
CREATE TRIGGER api_tokens_notify_user_changed
AFTER UPDATE OR DELETE ON api_tokens
FOR EACH ROW EXECUTE FUNCTION notify_user_changed();

DROP INDEX api_tokens_live_by_user;
ALTER TABLE api_tokens DROP COLUMN last_used_at, DROP COLUMN kind, DROP COLUMN name;

ALTER TABLE users DROP CONSTRAINT users_name_ascii;
DROP INDEX users_page;
DROP INDEX users_name_lower;
ALTER TABLE users DROP COLUMN disabled_at, DROP COLUMN password_hash;
