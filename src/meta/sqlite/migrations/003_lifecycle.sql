-- 003: lifecycle policies (per repository), their previews, and the event log that records
-- what the registry did on its own (lifecycle expiry now; later issues add more kinds).

ALTER TABLE repositories ADD COLUMN lifecycle_policy TEXT;            -- policy text as put
ALTER TABLE repositories ADD COLUMN lifecycle_evaluated_at INTEGER;   -- last run, epoch s

-- One preview per repository, as in ECR: StartLifecyclePolicyPreview replaces the previous
-- one unless it is still running.
CREATE TABLE lifecycle_previews (
    repo_id      INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
    policy       TEXT NOT NULL,
    status       TEXT NOT NULL,      -- IN_PROGRESS, COMPLETE, FAILED
    results      TEXT,               -- JSON array of LifecyclePolicyPreviewResult
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER
);
CREATE INDEX lifecycle_previews_status ON lifecycle_previews(status);

-- Who did what to which image when. Names rather than ids: an event outlives its repository.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    account_id  TEXT NOT NULL,
    repository  TEXT NOT NULL,
    kind        TEXT NOT NULL,       -- IMAGE_EXPIRED
    digest      TEXT,
    actor       TEXT NOT NULL,       -- lifecycle-policy
    detail      TEXT                 -- JSON
);
CREATE INDEX events_repository ON events(account_id, repository, id);
