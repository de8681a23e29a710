-- placeholder: filled by the work on issue 9 (money)
SELECT 1;
