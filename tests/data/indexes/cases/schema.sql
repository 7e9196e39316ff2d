-- Schema of the suggest-indexes case suite (tests/test_indexes_cases.py): writers, their
-- stories and remarks on them, with a skewed status, JSONB and hstore attributes.
CREATE EXTENSION IF NOT EXISTS hstore;

CREATE TABLE writers (
    id        int PRIMARY KEY,
    email     text NOT NULL,
    handle    text NOT NULL,
    region    text NOT NULL,
    joined_at timestamptz NOT NULL
);
INSERT INTO writers
SELECT g, 'w' || g || '@mail.test', 'h' || md5(g::text), 'r' || (g % 12),
       timestamptz '2020-01-01' + g * interval '17 minutes'
FROM generate_series(1, 20000) AS g;

CREATE TABLE stories (
    id         int PRIMARY KEY,
    writer_id  int NOT NULL,
    board_id   int NOT NULL,
    topic_id   int NOT NULL,
    title      text NOT NULL,
    slug       text NOT NULL,
    state      text NOT NULL,
    score      int NOT NULL,
    created_at timestamptz NOT NULL,
    deleted_at timestamptz,
    meta       jsonb NOT NULL,
    attrs      hstore NOT NULL,
    area       box NOT NULL
);
INSERT INTO stories
SELECT g, 1 + (g * 7919) % 20000, g % 800, g % 9, 'title ' || g, 's' || md5(g::text),
       CASE WHEN g % 97 = 0 THEN 'pending' WHEN g % 89 = 0 THEN 'failed' ELSE 'done' END,
       (g * 31) % 1000, timestamptz '2023-01-01' + g * interval '3 minutes',
       CASE WHEN g % 20 = 0 THEN timestamptz '2024-01-01' END,
       jsonb_build_object('kind', 'k' || (g % 400), 'lang', (ARRAY['en', 'de', 'fr'])[1 + g % 3], 'ref', g),
       hstore('color', 'c' || (g % 300)),
       box(point(g % 1000, g % 997), point(g % 1000 + 1, g % 997 + 1))
FROM generate_series(1, 120000) AS g;

-- ANALYZE samples 300 rows per statistics target unit: 1000 here makes it read all
-- 120,000 rows, so the statistics (and every plan cost the cases measure) are the same
-- on each run instead of depending on a random sample
ALTER TABLE stories ALTER COLUMN meta SET STATISTICS 1000;

CREATE TABLE remarks (
    id         int PRIMARY KEY,
    story_id   int NOT NULL,
    writer_id  int NOT NULL,
    created_at timestamptz NOT NULL,
    body       text NOT NULL
);
INSERT INTO remarks
SELECT g, 1 + (g::bigint * 104729) % 120000, 1 + (g * 13) % 20000,
       timestamptz '2023-06-01' + g * interval '2 minutes', 'remark ' || g
FROM generate_series(1, 150000) AS g;
CREATE INDEX remarks_story_id_idx ON remarks (story_id);
