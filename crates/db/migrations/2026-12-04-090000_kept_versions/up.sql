-- The content REPLACE keeps, as a row of its own, points at the image it was kept
-- from: such rows are history, not new images. They leave the feed, and they go when
-- that image goes (the service deletes them with their objects; the cascade is the
-- backstop for deletes made by hand, whose objects `imagegraph gc` sweeps).
ALTER TABLE images ADD COLUMN kept_from uuid REFERENCES images (id) ON DELETE CASCADE;

-- Rows kept before this column existed: NEW_VERSION always stores source EDIT with
-- edited_at = created_at, while a kept version carries its image's source and the
-- edited_at of the content it keeps, which is older than the version row.
UPDATE images SET kept_from = parent_id
WHERE parent_id IS NOT NULL AND (source <> 'EDIT' OR edited_at < created_at);

CREATE INDEX images_kept_from ON images (kept_from) WHERE kept_from IS NOT NULL;
-- The feed walks only images that are not kept versions.
DROP INDEX images_feed;
CREATE INDEX images_feed ON images (created_at DESC, id DESC) WHERE kept_from IS NULL;
