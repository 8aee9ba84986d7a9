DROP TRIGGER users_name_ascii_on_rename ON users;
DROP TRIGGER users_name_ascii_on_insert ON users;
DROP FUNCTION users_name_ascii();
ALTER TABLE users ADD CONSTRAINT users_name_ascii
    CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$') NOT VALID;
