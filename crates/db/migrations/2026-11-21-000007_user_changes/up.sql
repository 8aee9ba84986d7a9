-- Processes cache who a token belongs to. Whatever revokes a token or changes a user
-- (the CLI, a script, plain SQL) tells every process at commit, through the events
-- channel, so caches forget that user at once.
CREATE FUNCTION notify_user_changed() RETURNS trigger AS $$
DECLARE
  changed uuid;
BEGIN
  IF TG_TABLE_NAME = 'api_tokens' THEN
    changed := OLD.user_id;
  ELSE
    changed := OLD.id;
  END IF;
  PERFORM pg_notify('imagegraph_events',
    json_build_object('type', 'userChanged', 'userId', changed)::text);
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER api_tokens_notify_user_changed
AFTER UPDATE OR DELETE ON api_tokens
FOR EACH ROW EXECUTE FUNCTION notify_user_changed();

CREATE TRIGGER users_notify_user_changed
AFTER UPDATE OR DELETE ON users
FOR EACH ROW EXECUTE FUNCTION notify_user_changed();
