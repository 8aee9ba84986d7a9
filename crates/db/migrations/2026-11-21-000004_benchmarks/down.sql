DROP TABLE benchmark_runs;
