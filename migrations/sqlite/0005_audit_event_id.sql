-- The raw event an intake audit entry records. A finding's events are found through the audit
-- log's (finding_key, id) index, which every accepted event already writes, instead of reading every
-- raw event (raw_events has no index by finding, and one would add a random-order insert to each
-- intake write: about a tenth of SQLite's intake rate). Same change as
-- migrations/postgres/0005_audit_event_id.sql.
ALTER TABLE audit_log ADD COLUMN event_id BIGINT;

-- Entries written before this column carry the id in their detail. Filling it in is the one
-- change ever made to existing audit entries: the append-only trigger is lifted for this
-- statement only, inside the migration's transaction.
DROP TRIGGER audit_log_no_update;
UPDATE audit_log SET event_id = json_extract(detail, '$.event_id')
 WHERE action IN ('event.accepted', 'event.ignored');
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
