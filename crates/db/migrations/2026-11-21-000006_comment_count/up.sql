-- The feed shows each image's comment count: kept on the image by a trigger, so a
-- page of images needs no count query, and every path that adds or removes comments
-- (including cascades) keeps it right.
ALTER TABLE images ADD COLUMN comment_count integer NOT NULL DEFAULT 0;

UPDATE images SET comment_count = c.n
FROM (SELECT image_id, count(*) AS n FROM comments GROUP BY image_id) c
WHERE images.id = c.image_id;

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
