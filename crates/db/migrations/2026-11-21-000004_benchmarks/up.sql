-- HPL benchmark runs, queued as jobs and kept as history.
CREATE TABLE benchmark_runs (
    id            uuid PRIMARY KEY,
    owner_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status        text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    n             integer NOT NULL CHECK (n > 0),
    block_size    integer NOT NULL CHECK (block_size > 0),
    threads       integer NOT NULL CHECK (threads > 0),
    seed          bigint NOT NULL,
    seconds       double precision,
    gflops        double precision,
    residual      double precision,
    passed        boolean,
    error         text,
    host_name     text,
    cpu_model     text,
    cores         integer,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz
);
CREATE INDEX benchmark_runs_newest ON benchmark_runs (created_at DESC, id DESC);
CREATE INDEX benchmark_runs_owner ON benchmark_runs (owner_id, created_at DESC, id DESC);
