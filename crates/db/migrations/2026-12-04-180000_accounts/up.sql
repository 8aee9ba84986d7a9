-- Accounts in the API: passwords, disabled users, named API tokens.

-- Argon2id PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$...`); NULL: no password
-- (the user signs in with API tokens only). Disabled users keep their tokens, but
-- token lookups refuse them (`disabled_at IS NULL`) until they are enabled again.
ALTER TABLE users
    ADD COLUMN password_hash text CHECK (password_hash IS NULL OR length(password_hash) BETWEEN 1 AND 512),
    ADD COLUMN disabled_at timestamptz;

-- Names are unique whatever their case. Refused loudly if existing names collide,
-- rather than renaming anyone.
DO $$
DECLARE
  clash text;
BEGIN
  SELECT string_agg(name, ', ') INTO clash FROM users
   WHERE lower(name) IN (SELECT lower(name) FROM users GROUP BY 1 HAVING count(*) > 1);
  IF clash IS NOT NULL THEN
    RAISE EXCEPTION 'user names that differ only in case: %; rename all but one of each, then migrate again', clash;
  END IF;
END
$$;
CREATE UNIQUE INDEX users_name_lower ON users (lower(name));
-- New and renamed users have ASCII names (no look-alike letters); names made before
-- this rule stay as they are (NOT VALID checks only rows written from now on).
-- `users(first, after)`: keyset pages, newest first.
CREATE INDEX users_page ON users (created_at DESC, id DESC);
ALTER TABLE users ADD CONSTRAINT users_name_ascii
    CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$') NOT VALID;

-- A token's name (what it is for), how it was made (the CLI, `login`, or
-- `createApiToken`), and when it last authenticated a request (written at most once a
-- minute per token).
ALTER TABLE api_tokens
    ADD COLUMN name text NOT NULL DEFAULT 'cli' CHECK (length(name) BETWEEN 1 AND 64),
    ADD COLUMN kind text NOT NULL DEFAULT 'CLI' CHECK (kind IN ('CLI', 'LOGIN', 'API')),
    ADD COLUMN last_used_at timestamptz;
CREATE INDEX api_tokens_live_by_user ON api_tokens (user_id, created_at) WHERE revoked_at IS NULL;

-- Recording when a token was last used changes nothing it stands for: announcing it
-- would drop the user's cached tokens and make their sockets check again every minute.
DROP TRIGGER api_tokens_notify_user_changed ON api_tokens;
CREATE TRIGGER api_tokens_notify_user_changed
AFTER UPDATE ON api_tokens
FOR EACH ROW
WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
EXECUTE FUNCTION notify_user_changed();
CREATE TRIGGER api_tokens_notify_user_deleted
AFTER DELETE ON api_tokens
FOR EACH ROW EXECUTE FUNCTION notify_user_changed();
