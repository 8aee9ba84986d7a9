-- Durable background jobs. A job is inserted in the same transaction as the row that
-- needs it; workers claim with FOR UPDATE SKIP LOCKED and hold a lease (locked_until)
-- that another worker may take over once it has run out.
CREATE TABLE jobs (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL,
    payload       jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'QUEUED' CHECK (status IN ('QUEUED', 'RUNNING', 'FAILED')),
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL CHECK (max_attempts > 0),
    run_at        timestamptz NOT NULL DEFAULT now(),
    locked_by     text,
    locked_until  timestamptz,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_queued ON jobs (run_at) WHERE status = 'QUEUED';
CREATE INDEX jobs_leased ON jobs (locked_until) WHERE status = 'RUNNING';

-- Wakes idle workers at once; polling remains the fallback.
CREATE FUNCTION imagegraph_job_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('imagegraph_jobs', NEW.kind);
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify AFTER INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION imagegraph_job_inserted();

-- Image generations requested from a prompt; the image appears when it succeeds.
CREATE TABLE generations (
    id            uuid PRIMARY KEY,
    owner_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    prompt        text NOT NULL,
    size          text NOT NULL,
    with_analysis boolean NOT NULL,
    status        text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    model         text,
    error         text,
    image_id      uuid REFERENCES images (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz
);
CREATE INDEX generations_owner ON generations (owner_id, created_at DESC, id DESC);

-- One row per call to an AI provider: what it cost, for the metrics.
CREATE TABLE ai_calls (
    id                 uuid PRIMARY KEY,
    user_id            uuid REFERENCES users (id) ON DELETE SET NULL,
    operation          text NOT NULL,
    model              text NOT NULL,
    prompt_tokens      integer NOT NULL DEFAULT 0,
    completion_tokens  integer NOT NULL DEFAULT 0,
    succeeded          boolean NOT NULL,
    duration_ms        integer NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ai_calls_user ON ai_calls (user_id, created_at);
