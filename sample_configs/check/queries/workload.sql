SELECT * FROM orders WHERE customer_id = 7;
SELECT id, total_cents FROM orders WHERE status = 'new' AND created_at > now() - interval '1 day';
