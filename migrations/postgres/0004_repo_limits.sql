-- Per-repository pull request limits and GitHub issues. Same columns as
-- migrations/sqlite/0004_repo_limits.sql.
--
-- proposals.opened_at is when the bot opened the pull request (epoch milliseconds), for the
-- repository's pr_hourly_limit; open pull requests per repository count against pr_concurrent_limit.
ALTER TABLE proposals ADD COLUMN opened_at BIGINT;
CREATE INDEX proposals_repo_state ON proposals (repo, state);

-- The GitHub issue opened for an advice, drift-only or no-match outcome (repository config
-- `github_issues = true`), once it exists.
ALTER TABLE findings ADD COLUMN github_issue BIGINT;
