DROP TABLE IF EXISTS refunds;
DROP TABLE IF EXISTS deliveries;
DROP TABLE IF EXISTS generated_photos;
DROP TABLE IF EXISTS generation_tasks;
DROP TABLE IF EXISTS generation_jobs;
