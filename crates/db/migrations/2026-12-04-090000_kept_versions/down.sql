DROP INDEX images_feed;
CREATE INDEX images_feed ON images (created_at DESC, id DESC);
DROP INDEX images_kept_from;
ALTER TABLE images DROP COLUMN kept_from;
