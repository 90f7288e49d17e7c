-- driftfix store, PostgreSQL dialect. Same tables and columns as migrations/sqlite/0001_initial.sql.
-- Times are Unix epoch milliseconds (BIGINT) in both dialects, so one SQL text serves both.

CREATE TABLE raw_events (
    id           BIGSERIAL PRIMARY KEY,
    source       TEXT    NOT NULL,
    dedup_id     TEXT    NOT NULL,
    received_at  BIGINT  NOT NULL,
    verdict      TEXT    NOT NULL,
    finding_key  TEXT,
    body         TEXT    NOT NULL,
    UNIQUE (source, dedup_id)
);

CREATE TABLE findings (
    key                TEXT    PRIMARY KEY,
    account            TEXT    NOT NULL,
    region             TEXT    NOT NULL,
    resource_type      TEXT    NOT NULL,
    resource_id        TEXT    NOT NULL,
    rule_identifier    TEXT    NOT NULL,
    rule_name          TEXT,
    state              TEXT    NOT NULL,
    compliance         TEXT,
    last_evaluated_at  TEXT,
    outcome            TEXT,
    location_address   TEXT,
    location_file      TEXT,
    location_line      BIGINT,
    diff               TEXT,
    reason             TEXT,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL
);
CREATE INDEX findings_state ON findings (state);
CREATE INDEX findings_rule ON findings (rule_identifier);

CREATE TABLE jobs (
    id            BIGSERIAL PRIMARY KEY,
    kind          TEXT    NOT NULL,
    finding_key   TEXT,
    payload       TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    run_at        BIGINT  NOT NULL,
    attempts      BIGINT  NOT NULL DEFAULT 0,
    max_attempts  BIGINT  NOT NULL,
    lease_until   BIGINT,
    last_error    TEXT,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE INDEX jobs_ready ON jobs (state, run_at);
CREATE UNIQUE INDEX jobs_one_open_per_finding ON jobs (kind, finding_key) WHERE state IN ('queued', 'running');

CREATE TABLE proposals (
    finding_key  TEXT    PRIMARY KEY REFERENCES findings (key),
    branch       TEXT    NOT NULL UNIQUE,
    pr_number    BIGINT,
    pr_url       TEXT,
    ticket_key   TEXT,
    state        TEXT    NOT NULL,
    title        TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);

CREATE TABLE audit_log (
    id           BIGSERIAL PRIMARY KEY,
    at           BIGINT  NOT NULL,
    finding_key  TEXT,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    detail       TEXT    NOT NULL
);
CREATE INDEX audit_by_finding ON audit_log (finding_key, id);

-- The audit log is append-only.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
