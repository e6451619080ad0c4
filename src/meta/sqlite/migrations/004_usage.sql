-- 004: storage accounting. Pulls and bytes served per repository per day (days since the
-- epoch on the registry's clock, UTC). The server counts in memory and adds its counts here
-- every few seconds, so a pull never waits for this table. Stored and physical bytes need no
-- table: they are sums over repo_blobs, blobs and manifests.
-- (003 and 004 belong to lifecycle policies and garbage collection.)

CREATE TABLE usage_daily (
    repo_id       INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    day           INTEGER NOT NULL,
    pulls         INTEGER NOT NULL DEFAULT 0,
    bytes_served  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (repo_id, day)
) WITHOUT ROWID;
