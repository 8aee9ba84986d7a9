-- The search benchmark's data: 20 users (user1..user20), :images images (one a second,
-- back in time, owned in turn by the users) with descriptions and four tags drawn
-- from small vocabularies, and 5 comments on each (a millisecond apart, by other users
-- in turn), some of which mention a subject too. Deterministic: the words come from
-- hashes of the row number. Objects are not stored: lists only sign URLs.
--
-- Used by benches/search.rs (include_str!, `:images` replaced by the count), or on its
-- own: psql -v images=100000 -f benches/search_seed.sql, then VACUUM ANALYZE.
--
-- How often words occur, for choosing a query: a subject 1 in 20 images (plus some
-- comments), a setting word 1 in 12, a colour tag 1 in 12; so `lighthouse fog` with
-- tag `blue` matches about 1 image in 2,500 (40 of 100,000).

INSERT INTO users (id, name, role)
SELECT gen_random_uuid(), 'user' || n, 'MEMBER' FROM generate_series(1, 20) n;

CREATE TEMPORARY TABLE seed_users AS
SELECT id, (row_number() OVER (ORDER BY name) - 1)::int AS k
FROM users WHERE name ~ '^user[0-9]+$';

-- The triggers would recompute an image's document on every one of its comments:
-- seeding computes each once, at the end, the way the triggers would.
ALTER TABLE images DISABLE TRIGGER images_search_document;
ALTER TABLE comments DISABLE TRIGGER comments_on_images;

CREATE TEMPORARY TABLE seed_words AS SELECT
  ARRAY['cat', 'dog', 'horse', 'bicycle', 'lighthouse', 'mountain', 'lake', 'bridge', 'castle', 'forest',
        'beach', 'tram', 'garden', 'harbour', 'windmill', 'market', 'church', 'train', 'owl', 'fox'] AS subjects,
  ARRAY['at sunrise', 'in the rain', 'under snow', 'at night', 'in fog', 'at noon', 'by the river',
        'in autumn', 'near the sea', 'in a city', 'on a hill', 'in spring'] AS settings,
  ARRAY['red', 'orange', 'yellow', 'green', 'cyan', 'blue', 'purple', 'pink', 'brown', 'black', 'white', 'grey'] AS colours,
  ARRAY['quiet', 'busy', 'old', 'small', 'tall', 'bright', 'lonely', 'misty', 'golden', 'ancient', 'modern', 'rustic'] AS adjectives,
  ARRAY['seen from afar', 'in sharp focus', 'slightly blurred', 'with long shadows', 'in soft light',
        'framed by trees', 'under a clear sky', 'with people nearby'] AS moods,
  ARRAY['landscape', 'portrait', 'square'] AS orientations,
  ARRAY['bright', 'dark', 'soft', 'sharp'] AS lights,
  ARRAY['Love the colours', 'Great composition', 'Where was this taken?', 'Reminds me of the',
        'What a view', 'Nice light on the', 'Beautiful shot of the', 'I would frame this'] AS openers;

-- A word of `list` for row `n`, hashed with `salt`.
CREATE FUNCTION pg_temp.pick(list text[], n bigint, salt int) RETURNS text
LANGUAGE sql IMMUTABLE AS
$$ SELECT list[1 + (hashint8(n * 131 + salt) & 2147483647) % array_length(list, 1)] $$;

INSERT INTO images (id, owner_id, content_id, content_type, width, height, byte_size, thumbnail_content_type,
                    description, tags, analysis_status, analysis_model, created_at, edited_at)
SELECT s.id, u.id, s.id, 'image/jpeg', 1600, 1200, 250000, 'image/jpeg',
       format('A %s %s %s %s, %s.', pg_temp.pick(w.adjectives, s.n, 1), pg_temp.pick(w.colours, s.n, 2),
              pg_temp.pick(w.subjects, s.n, 3), pg_temp.pick(w.settings, s.n, 4), pg_temp.pick(w.moods, s.n, 5)),
       ARRAY[pg_temp.pick(w.colours, s.n, 2), pg_temp.pick(w.subjects, s.n, 3),
             pg_temp.pick(w.orientations, s.n, 6), pg_temp.pick(w.lights, s.n, 7)],
       'SUCCEEDED', 'gpt-4o-mini', now() - s.n * interval '1 second', now() - s.n * interval '1 second'
FROM (SELECT gen_random_uuid() AS id, n FROM generate_series(1, :images) n) s
CROSS JOIN seed_words w
JOIN seed_users u ON u.k = s.n % 20;

INSERT INTO comments (id, image_id, author_id, text, created_at, edited_at)
SELECT gen_random_uuid(), i.id, u.id,
       CASE WHEN o IN ('Reminds me of the', 'Nice light on the', 'Beautiful shot of the')
            THEN o || ' ' || pg_temp.pick(w.subjects, extract(epoch FROM i.created_at)::bigint, c.k + 10) || '.'
            ELSE o || ', comment ' || c.k || '.' END,
       i.created_at + c.k * interval '1 ms', i.created_at + c.k * interval '1 ms'
FROM images i
CROSS JOIN generate_series(1, 5) c(k)
CROSS JOIN seed_words w
CROSS JOIN LATERAL (SELECT pg_temp.pick(w.openers, extract(epoch FROM i.created_at)::bigint, c.k) AS o) op
JOIN seed_users u ON u.k = (c.k * 7) % 20;

UPDATE images SET comment_count = (SELECT count(*) FROM comments WHERE comments.image_id = images.id),
                  search_document = images_search_document(id, description, prompt, tags);

ALTER TABLE comments ENABLE TRIGGER comments_on_images;
ALTER TABLE images ENABLE TRIGGER images_search_document;
DROP TABLE seed_words;
DROP TABLE seed_users;

-- The caller then runs `VACUUM ANALYZE` as a statement of its own.
