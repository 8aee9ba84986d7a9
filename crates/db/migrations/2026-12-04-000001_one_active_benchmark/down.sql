DROP INDEX benchmark_runs_one_active;
