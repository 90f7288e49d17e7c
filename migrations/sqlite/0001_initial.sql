-- driftfix store, SQLite dialect. Same tables and columns as migrations/postgres/0001_initial.sql.
-- Times are Unix epoch milliseconds (BIGINT) in both dialects, so one SQL text serves both.

CREATE TABLE raw_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    source       TEXT    NOT NULL,           -- eventbridge | sns | github | sync | cli
    dedup_id     TEXT    NOT NULL,           -- EventBridge id, SNS MessageId, X-GitHub-Delivery, or rule+resource+orderingTimestamp
    received_at  BIGINT  NOT NULL,
    verdict      TEXT    NOT NULL,           -- accepted | ignored
    finding_key  TEXT,
    body         TEXT    NOT NULL,
    UNIQUE (source, dedup_id)
);

CREATE TABLE findings (
    key                TEXT    PRIMARY KEY,  -- sha256(account|region|type|id|rule identifier)
    account            TEXT    NOT NULL,
    region             TEXT    NOT NULL,
    resource_type      TEXT    NOT NULL,
    resource_id        TEXT    NOT NULL,
    rule_identifier    TEXT    NOT NULL,
    rule_name          TEXT,
    state              TEXT    NOT NULL,     -- received | located | proposed | advice | drift-only | no-match | unsupported | suppressed | no-route
    compliance         TEXT,
    last_evaluated_at  TEXT,                 -- AWS orderingTimestamp, as AWS wrote it
    outcome            TEXT,
    location_address   TEXT,
    location_file      TEXT,
    location_line      INTEGER,
    diff               TEXT,
    reason             TEXT,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL
);
CREATE INDEX findings_state ON findings (state);
CREATE INDEX findings_rule ON findings (rule_identifier);

CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL,          -- remediate | ...
    finding_key   TEXT,
    payload       TEXT    NOT NULL,          -- JSON
    state         TEXT    NOT NULL,          -- queued | running | done | dead
    run_at        BIGINT  NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    lease_until   BIGINT,
    last_error    TEXT,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE INDEX jobs_ready ON jobs (state, run_at);
-- At most one unfinished job of a kind per finding: redelivery cannot create new work.
CREATE UNIQUE INDEX jobs_one_open_per_finding ON jobs (kind, finding_key) WHERE state IN ('queued', 'running');

CREATE TABLE proposals (
    finding_key  TEXT    PRIMARY KEY REFERENCES findings (key),
    branch       TEXT    NOT NULL UNIQUE,
    pr_number    BIGINT,
    pr_url       TEXT,
    ticket_key   TEXT,
    state        TEXT    NOT NULL,           -- rendered | open | merged | closed
    title        TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);

CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           BIGINT  NOT NULL,
    finding_key  TEXT,
    actor        TEXT    NOT NULL,           -- driftfix | github:<login> | aws
    action       TEXT    NOT NULL,
    detail       TEXT    NOT NULL            -- JSON
);
CREATE INDEX audit_by_finding ON audit_log (finding_key, id);

-- The audit log is append-only.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
