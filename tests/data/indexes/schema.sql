-- Schema for the suggest-indexes and explain tests: one table per case the issue lists.
CREATE TABLE customers (
    id         int PRIMARY KEY,
    email      text NOT NULL,
    country    text NOT NULL,
    city       text NOT NULL,
    created_at timestamptz NOT NULL
);
INSERT INTO customers
SELECT g, 'user' || g || '@example.com', (ARRAY['de', 'fr', 'us', 'uk', 'es', 'it', 'nl', 'pl'])[1 + g % 8],
       'city' || (g % 500), timestamptz '2024-01-01' + g * interval '5 minutes'
FROM generate_series(1, 40000) AS g;

CREATE TABLE orders (
    id          int PRIMARY KEY,
    customer_id int NOT NULL,
    status      text NOT NULL,
    total       numeric(10, 2) NOT NULL,
    created_at  timestamptz NOT NULL,
    sku         text NOT NULL
);
INSERT INTO orders
SELECT g, 1 + (g * 7919) % 40000,
       CASE WHEN g % 100 = 0 THEN 'draft' WHEN g % 10 = 0 THEN 'open' ELSE 'shipped' END,
       (g % 1000) / 10.0, timestamptz '2024-01-01' + g * interval '1 minute', 'sku-' || (g % 30000)
FROM generate_series(1, 60000) AS g;
CREATE INDEX orders_sku_idx ON orders (sku);

CREATE TABLE events (
    id         bigint NOT NULL,
    account_id int NOT NULL,
    kind       text NOT NULL,
    at         timestamptz NOT NULL
) PARTITION BY RANGE (at);
CREATE TABLE events_2024a PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2024-07-01');
CREATE TABLE events_2024b PARTITION OF events FOR VALUES FROM ('2024-07-01') TO ('2025-01-01');
INSERT INTO events
SELECT g, g % 3000, (ARRAY['click', 'view', 'buy'])[1 + g % 3],
       timestamptz '2024-01-01' + (g % 360) * interval '1 day' + (g % 1440) * interval '1 minute'
FROM generate_series(1, 40000) AS g;

CREATE TABLE "UserProfiles" (
    "Id"       int PRIMARY KEY,
    "TenantId" int NOT NULL,
    "Nickname" text NOT NULL
);
INSERT INTO "UserProfiles" SELECT g, g % 2000, 'nick' || g FROM generate_series(1, 30000) AS g;

CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL, scope text NOT NULL);
INSERT INTO settings SELECT 'k' || g, 'v', 's' || (g % 3) FROM generate_series(1, 20) AS g;

CREATE VIEW open_orders AS SELECT id, customer_id, total, created_at FROM orders WHERE status = 'open';

-- the tests run VACUUM ANALYZE after loading (not allowed inside a multi-statement string)
