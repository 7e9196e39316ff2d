-- A small CRM: sales users own leads of accounts; activities are logged against leads.
-- Only primary keys and one obvious index exist: the workload's other access paths are
-- deliberately unindexed so that suggest-indexes has real work to do.
CREATE TABLE users (
    id     serial PRIMARY KEY,
    name   text NOT NULL,
    email  text NOT NULL UNIQUE,
    team   text NOT NULL
);

CREATE TABLE accounts (
    id          serial PRIMARY KEY,
    name        text NOT NULL,
    industry    text NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE leads (
    id          bigserial PRIMARY KEY,
    account_id  int NOT NULL REFERENCES accounts (id),
    owner_id    int NOT NULL REFERENCES users (id),
    email       text NOT NULL,
    full_name   text NOT NULL,
    status      text NOT NULL,
    score       int NOT NULL,
    source      text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE activities (
    id           bigserial PRIMARY KEY,
    lead_id      bigint NOT NULL REFERENCES leads (id),
    user_id      int NOT NULL REFERENCES users (id),
    kind         text NOT NULL,
    note         text,
    happened_at  timestamptz NOT NULL
);

INSERT INTO users (name, email, team)
SELECT 'User ' || g, 'user' || g || '@example.com', (ARRAY['east', 'west', 'enterprise'])[1 + g % 3]
FROM generate_series(1, {users}) AS g;

INSERT INTO accounts (name, industry, created_at)
SELECT 'Account ' || g,
       (ARRAY['saas', 'retail', 'finance', 'health', 'media'])[1 + g % 5],
       now() - (g % 1000) * interval '1 day'
FROM generate_series(1, {accounts}) AS g;

-- status skew: most leads are closed, few are new (partial-index territory)
INSERT INTO leads (account_id, owner_id, email, full_name, status, score, source, created_at, updated_at)
SELECT 1 + (g::bigint * 7919) % {accounts},
       1 + (g::bigint * 104729) % {users},
       'lead' || g || '@' || (ARRAY['acme.io', 'globex.com', 'initech.net', 'umbrella.org'])[1 + g % 4],
       'Lead ' || g,
       CASE WHEN g % 50 = 0 THEN 'new'
            WHEN g % 10 = 0 THEN 'contacted'
            WHEN g % 7 = 0 THEN 'qualified'
            ELSE 'closed' END,
       (g::bigint * 37) % 100,
       (ARRAY['web', 'referral', 'event', 'ads'])[1 + g % 4],
       now() - (g % 730) * interval '1 day' - (g % 86400) * interval '1 second',
       now() - (g % 30) * interval '1 day'
FROM generate_series(1, {leads}) AS g;

INSERT INTO activities (lead_id, user_id, kind, note, happened_at)
SELECT 1 + (g::bigint * 15485863) % {leads},
       1 + g % {users},
       (ARRAY['call', 'email', 'meeting', 'note'])[1 + g % 4],
       CASE WHEN g % 3 = 0 THEN 'follow up' END,
       now() - (g % 365) * interval '1 day'
FROM generate_series(1, {activities}) AS g;

ANALYZE;
