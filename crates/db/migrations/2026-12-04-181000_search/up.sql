-- Tags from the analysis, and full-text search over what people and the model wrote
-- about an image: its description, prompt, tags and comments.
ALTER TABLE images ADD COLUMN tags text[] NOT NULL DEFAULT '{}';

-- The searchable document of an image, weighted for ranking: tags (A) and the
-- description and prompt (B) above comments (D). Bounded, so to_tsvector's 1 MB limit
-- is never reached and a comment costs the same on a busy image as on a quiet one:
-- description and prompt are cut at 10,000 and 4,000 characters, and only the newest
-- 50 comments count, at most 30,000 characters of them.
--
-- VOLATILE on purpose: its query then takes a fresh snapshot each time it runs, so
-- when two transactions touch one image, the one that waited for the other's row lock
-- recomputes the document (PostgreSQL re-evaluates the UPDATE on the newer row) and
-- sees the other's committed comment instead of losing it.
CREATE FUNCTION images_search_document(image uuid, description text, prompt text, tags text[])
RETURNS tsvector LANGUAGE sql VOLATILE AS $$
  SELECT setweight(to_tsvector('english'::regconfig, array_to_string(tags, ' ')), 'A')
      || setweight(to_tsvector('english'::regconfig, left(coalesce(description, ''), 10000)), 'B')
      || setweight(to_tsvector('english'::regconfig, left(coalesce(prompt, ''), 4000)), 'B')
      || setweight(to_tsvector('english'::regconfig, coalesce((
           SELECT left(string_agg(c.text, E'\n' ORDER BY c.created_at DESC, c.id DESC), 30000)
           FROM (SELECT comments.text, comments.created_at, comments.id FROM comments
                 WHERE comments.image_id = image
                 ORDER BY comments.created_at DESC, comments.id DESC
                 LIMIT 50) c), '')), 'D')
$$;

-- Written by the triggers below only, in the transaction that changes the texts.
ALTER TABLE images ADD COLUMN search_document tsvector NOT NULL DEFAULT ''::tsvector;

CREATE FUNCTION images_refresh_search_document() RETURNS trigger AS $$
BEGIN
  NEW.search_document := images_search_document(NEW.id, NEW.description, NEW.prompt, NEW.tags);
  RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER images_search_document
BEFORE INSERT OR UPDATE OF description, prompt, tags ON images
FOR EACH ROW EXECUTE FUNCTION images_refresh_search_document();

-- One UPDATE of the image per comment change keeps both its comment count and its
-- document (it replaces the count's own trigger: two updates would write two row
-- versions).
CREATE FUNCTION images_comments_changed() RETURNS trigger AS $$
BEGIN
  -- When the image itself is being deleted, its row is already gone: no-op.
  IF TG_OP = 'INSERT' THEN
    UPDATE images SET comment_count = comment_count + 1,
                      search_document = images_search_document(id, description, prompt, tags)
    WHERE id = NEW.image_id;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE images SET comment_count = comment_count - 1,
                      search_document = images_search_document(id, description, prompt, tags)
    WHERE id = OLD.image_id;
  ELSIF NEW.text IS DISTINCT FROM OLD.text THEN
    UPDATE images SET search_document = images_search_document(id, description, prompt, tags)
    WHERE id = NEW.image_id;
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

DROP TRIGGER comments_count_on_images ON comments;
DROP FUNCTION images_comment_count();
CREATE TRIGGER comments_on_images
AFTER INSERT OR DELETE OR UPDATE OF text ON comments
FOR EACH ROW EXECUTE FUNCTION images_comments_changed();

UPDATE images SET search_document = images_search_document(id, description, prompt, tags);

-- Only images in the feed are searched (kept versions are history).
CREATE INDEX images_search ON images USING gin (search_document) WHERE kept_from IS NULL;
CREATE INDEX images_tags ON images USING gin (tags) WHERE kept_from IS NULL;
