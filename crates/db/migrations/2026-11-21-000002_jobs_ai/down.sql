DROP TABLE ai_calls;
DROP TABLE generations;
DROP TRIGGER jobs_notify ON jobs;
DROP FUNCTION imagegraph_job_inserted();
DROP TABLE jobs;
