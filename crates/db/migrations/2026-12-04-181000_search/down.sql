DROP INDEX images_tags;
DROP INDEX images_search;
DROP TRIGGER comments_on_images ON comments;
DROP FUNCTION images_comments_changed();
DROP TRIGGER images_search_document ON images;
DROP FUNCTION images_refresh_search_document();
ALTER TABLE images DROP COLUMN search_document;
DROP FUNCTION images_search_document(uuid, text, text, text[]);
ALTER TABLE images DROP COLUMN tags;

CREATE FUNCTION images_comment_count() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE images SET comment_count = comment_count + 1 WHERE id = NEW.image_id;
  ELSE
    -- When the image itself is being deleted, its row is already gone: no-op.
    UPDATE images SET comment_count = comment_count - 1 WHERE id = OLD.image_id;
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER comments_count_on_images
AFTER INSERT OR DELETE ON comments
FOR EACH ROW EXECUTE FUNCTION images_comment_count();
