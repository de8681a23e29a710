-- claim_fair_task counts, per job with a pending task, its tasks started and left; without an index on
-- (job_id, status) the planner read the whole of generation_tasks three times on every claim (64 % of the
-- fleet's shared blocks in make bench's throughput part, growing with every task ever made). With it the counts
-- are index-only scans of the jobs in question: 2,841 → 55 buffers a claim at 115,000 tasks (EXPLAIN ANALYZE).
CREATE INDEX generation_tasks_job_status_idx ON generation_tasks (job_id, status);
