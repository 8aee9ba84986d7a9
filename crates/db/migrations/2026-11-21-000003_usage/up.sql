-- Usage counters per (bucket, kind, name, user). Every flush adds to the minute, hour
-- and day buckets at once, so coarser buckets are exact roll-ups from the start and
-- retention only has to delete old fine-grained rows.
CREATE TABLE usage_counters (
    bucket_size        text NOT NULL CHECK (bucket_size IN ('MINUTE', 'HOUR', 'DAY')),
    bucket_start       timestamptz NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('API', 'FIELD', 'FUNCTION', 'ERROR')),
    name               text NOT NULL,
    -- The nil UUID stands for anonymous use. No foreign key: history outlives users.
    user_id            uuid NOT NULL,
    count              bigint NOT NULL,
    error_count        bigint NOT NULL,
    duration_us        bigint NOT NULL,
    prompt_tokens      bigint NOT NULL,
    completion_tokens  bigint NOT NULL,
    last_used_at       timestamptz NOT NULL,
    PRIMARY KEY (bucket_size, bucket_start, kind, name, user_id)
);
CREATE INDEX usage_counters_by_user ON usage_counters (user_id, bucket_size, bucket_start);
