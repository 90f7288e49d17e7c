-- The raw event an intake audit entry records. A finding's events are found through the audit
-- log's (finding_key, id) index, which every accepted event already writes, instead of reading every
-- raw event (raw_events has no index by finding, and one would add a random-order insert to each
-- intake write). Same change as migrations/sqlite/0005_audit_event_id.sql.
ALTER TABLE audit_log ADD COLUMN event_id BIGINT;

-- Entries written before this column carry the id in their detail. Filling it in is the one
-- change ever made to existing audit entries: the append-only trigger is lifted for this
-- statement only, inside the migration's transaction.
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change;
UPDATE audit_log SET event_id = (detail::jsonb ->> 'event_id')::bigint
 WHERE action IN ('event.accepted', 'event.ignored');
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change;
