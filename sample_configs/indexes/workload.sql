SELECT * FROM orders WHERE customer_id = 7 ORDER BY created_at DESC LIMIT 10;
UPDATE orders SET total = total + 1 WHERE customer_id = 123;
SELECT id FROM customers WHERE lower(email) = 'user9@example.com';
SELECT customer_id FROM orders WHERE total BETWEEN 10 AND 14;
SELECT count(*) FROM orders;
SELECT * FROM customers WHERE no_such_column = 1;
