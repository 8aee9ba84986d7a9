DROP TRIGGER users_notify_user_changed ON users;
DROP TRIGGER api_tokens_notify_user_changed ON api_tokens;
DROP FUNCTION notify_user_changed();
