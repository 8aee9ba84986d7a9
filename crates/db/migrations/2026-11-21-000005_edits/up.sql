-- The edit instructions that produced an image (source EDIT, or replaced in place).
ALTER TABLE images ADD COLUMN edits jsonb;
