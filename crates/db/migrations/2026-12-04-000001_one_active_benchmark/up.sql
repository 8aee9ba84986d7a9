-- A user has at most one benchmark run waiting or running: runs hold the node's
-- cores for minutes, so a queue of one user's runs would shut everyone else out.
-- Extra active runs from before this rule are failed, newest first kept.
UPDATE benchmark_runs r
   SET status = 'FAILED',
       error = 'cancelled: a user may have one benchmark run waiting or running',
       finished_at = now()
 WHERE status IN ('PENDING', 'RUNNING')
   AND EXISTS (
       SELECT 1 FROM benchmark_runs o
        WHERE o.owner_id = r.owner_id
          AND o.status IN ('PENDING', 'RUNNING')
          AND (o.created_at, o.id) < (r.created_at, r.id));
CREATE UNIQUE INDEX benchmark_runs_one_active
    ON benchmark_runs (owner_id) WHERE status IN ('PENDING', 'RUNNING');
