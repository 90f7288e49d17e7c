-- GitHub: pull requests pushed, and risks accepted on them. Same columns as
-- migrations/postgres/0003_github.sql.
--
-- proposals.head_sha is the commit the bot last put on its branch (a different branch head means a
-- human pushed, and the bot stops updating it); proposals.repo is the `owner/name` it lives in.

ALTER TABLE proposals ADD COLUMN head_sha TEXT;
ALTER TABLE proposals ADD COLUMN repo TEXT;

-- An accepted risk (a bot pull request closed unmerged, or `@driftfix ignore`): who accepted it,
-- until when (epoch milliseconds; NULL = no expiry). The reason is the finding's `reason`.
ALTER TABLE findings ADD COLUMN accepted_by TEXT;
ALTER TABLE findings ADD COLUMN accepted_until BIGINT;

-- The finding's Jira ticket (one per finding, ever), once it exists.
ALTER TABLE findings ADD COLUMN ticket_key TEXT;
