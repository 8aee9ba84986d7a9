-- The ASCII rule for user names, as a NOT VALID check, also refused every UPDATE of
-- a row made before it (a NOT VALID check skips only the rows already there, and an
-- UPDATE writes a new row): an admin could not disable, demote or set the password
-- of a user whose old name has an `é` or a space. The rule now holds for names
-- written from now on (new users, renames) only.
ALTER TABLE users DROP CONSTRAINT users_name_ascii;

CREATE FUNCTION users_name_ascii() RETURNS trigger AS $$
BEGIN
  IF NEW.name !~ '^[A-Za-z0-9._-]{1,64}$' THEN
    RAISE EXCEPTION 'user names are 1 to 64 ASCII letters, digits, `.`, `_` or `-`'
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER users_name_ascii_on_insert
BEFORE INSERT ON users
FOR EACH ROW EXECUTE FUNCTION users_name_ascii();
CREATE TRIGGER users_name_ascii_on_rename
BEFORE UPDATE OF name ON users
FOR EACH ROW WHEN (NEW.name IS DISTINCT FROM OLD.name)
EXECUTE FUNCTION users_name_ascii();
