-- Which route (and so which repository) the worker sent a finding to, for `GET /api/findings?repo=`.
-- NULL until the worker has routed the finding, and for findings no route covers (`no-route`).
-- Same columns as migrations/sqlite/0002_finding_routes.sql.

ALTER TABLE findings ADD COLUMN route TEXT;
ALTER TABLE findings ADD COLUMN repo TEXT;
CREATE INDEX findings_repo ON findings (repo);
-- The listing order (newest first, then key) and its cursor.
CREATE INDEX findings_recent ON findings (updated_at, key);
