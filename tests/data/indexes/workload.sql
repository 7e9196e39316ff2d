-- single-column equality
SELECT * FROM customers WHERE email = 'user77@example.com';
-- two equality predicates
SELECT id FROM customers WHERE country = 'de' AND city = 'city42';
-- equality plus range
SELECT id, total FROM orders WHERE customer_id = 42 AND created_at >= '2024-01-20';
-- equality plus ORDER BY ... LIMIT
SELECT * FROM orders WHERE customer_id = 7 ORDER BY created_at DESC LIMIT 10;
-- ORDER BY ... DESC LIMIT
SELECT id, created_at FROM customers ORDER BY created_at DESC LIMIT 20;
-- a join column
SELECT c.email, o.total FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.email = 'user5@example.com';
-- UPDATE and DELETE predicates
UPDATE orders SET total = total + 1 WHERE customer_id = 123;
DELETE FROM orders WHERE customer_id = 99 AND status = 'open';
-- a view
SELECT * FROM open_orders WHERE customer_id = 11;
-- a CTE
WITH recent AS (SELECT * FROM customers WHERE city = 'city7') SELECT count(*) FROM recent;
-- a partitioned table
SELECT count(*) FROM events WHERE account_id = 17;
-- quoted mixed-case identifiers
SELECT "Nickname" FROM "UserProfiles" WHERE "TenantId" = 4;
-- expression
SELECT id FROM customers WHERE lower(email) = 'user9@example.com';
-- partial: a rare constant
SELECT id, total FROM orders WHERE status = 'draft' ORDER BY created_at LIMIT 50;
-- already indexed (no suggestion)
SELECT * FROM orders WHERE sku = 'sku-5';
-- a scan with no predicate (no suggestion)
SELECT count(*) FROM orders;
-- a tiny table (no suggestion)
SELECT value FROM settings WHERE scope = 's1';
-- a syntax error
SELECT FROM WHERE customers;
-- an unknown column
SELECT * FROM customers WHERE no_such_column = 1;
-- an unknown table
SELECT * FROM nowhere WHERE id = 1;
-- trigram advice
SELECT id FROM customers WHERE email LIKE '%example%';
-- covering: INCLUDE makes it an index-only scan
SELECT customer_id FROM orders WHERE total BETWEEN 10 AND 14;
