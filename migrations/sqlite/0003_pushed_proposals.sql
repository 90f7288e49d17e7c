-- Pull requests pushed to GitHub: the commit the bot last put on the branch (a different branch head
-- means a human pushed, and the bot stops updating it) and the repository it lives in.
-- Same columns as migrations/postgres/0003_pushed_proposals.sql.

ALTER TABLE proposals ADD COLUMN head_sha TEXT;
ALTER TABLE proposals ADD COLUMN repo TEXT;
