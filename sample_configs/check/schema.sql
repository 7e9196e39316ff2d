-- Schema and data for the explain / suggest-indexes checks of sample_configs/perfkit.check.toml.
-- Load it into the embedded database:  psql "$(perfkit db url)" -f sample_configs/check/schema.sql
DROP TABLE IF EXISTS orders;
CREATE TABLE orders (
    id          bigint PRIMARY KEY,
    customer_id int NOT NULL,
    status      text NOT NULL,
    total_cents int NOT NULL,
    created_at  timestamptz NOT NULL
);
INSERT INTO orders
SELECT g, g % 2000, (ARRAY['new', 'paid', 'shipped', 'cancelled'])[1 + g % 4],
       (g * 37) % 100000, now() - (g % 720) * interval '1 hour'
FROM generate_series(1, 50000) AS g;
CREATE INDEX orders_customer ON orders (customer_id);
ANALYZE orders;
