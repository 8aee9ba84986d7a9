DROP TRIGGER comments_count_on_images ON comments;
DROP FUNCTION images_comment_count();
ALTER TABLE images DROP COLUMN comment_count;
