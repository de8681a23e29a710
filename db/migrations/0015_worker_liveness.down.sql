DROP INDEX generation_tasks_submitting_idx;
ALTER TABLE generation_tasks DROP COLUMN claim_token, DROP COLUMN claimed_by;
DROP TABLE worker_processes;
