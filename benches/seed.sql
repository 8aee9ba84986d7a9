-- The feed benchmarks' data: 20 users (user1..user20), :images images (one a second,
-- back in time, owned in turn by the users) and 5 comments on each (a millisecond
-- apart, by other users in turn). Objects are not stored: the feed only signs URLs.
--
-- One copy, used by benches/feed.rs (include_str!, `:images` replaced by the count) and
-- scripts/bench_feed.py (psql -v images=N -f benches/seed.sql, psql's own variable).
-- Only the users named here own or write anything, so the admin a server may already
-- have created does not change the data.

INSERT INTO users (id, name, role)
SELECT gen_random_uuid(), 'user' || n, 'MEMBER' FROM generate_series(1, 20) n;

CREATE TEMPORARY TABLE seed_users AS
SELECT id, (row_number() OVER (ORDER BY name) - 1)::int AS k
FROM users WHERE name ~ '^user[0-9]+$';

INSERT INTO images (id, owner_id, content_id, content_type, width, height, byte_size, thumbnail_content_type, description, created_at, edited_at)
SELECT s.id, u.id, s.id, 'image/jpeg', 1600, 1200, 250000, 'image/jpeg',
       'A photo of something, number ' || s.n, now() - s.n * interval '1 second', now() - s.n * interval '1 second'
FROM (SELECT gen_random_uuid() AS id, n FROM generate_series(1, :images) n) s
JOIN seed_users u ON u.k = s.n % 20;

INSERT INTO comments (id, image_id, author_id, text, created_at, edited_at)
SELECT gen_random_uuid(), i.id, u.id,
       'Comment ' || c.k || ' on this image', i.created_at + c.k * interval '1 ms', i.created_at + c.k * interval '1 ms'
FROM images i
CROSS JOIN generate_series(1, 5) c(k)
JOIN seed_users u ON u.k = (c.k * 7) % 20;

DROP TABLE seed_users;

-- Both callers then run `VACUUM ANALYZE` as a statement of its own (it cannot run in the
-- one multi-statement string benches/feed.rs sends): the trigger that keeps
-- images.comment_count rewrites each image row once per comment, and autovacuum should
-- not wake up to clean that in the middle of a measurement.
