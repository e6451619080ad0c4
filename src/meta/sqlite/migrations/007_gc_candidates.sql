-- 007: garbage collection looks only where garbage can be. A pass used to read every link,
-- every blob row and every blob file, so at 100,000 repositories it took seconds whatever the
-- garbage (docs/performance-scale.md). The writes now record their candidates: triggers (not
-- the code paths) so that every writer, `berth admin` and a future one included, records them
-- in its own transaction. A candidate is only a place to look: a pass re-checks every
-- condition under the write lock before it removes anything (docs/gc.md), so a candidate too
-- many costs a probe and a candidate too few would only leave garbage behind.

-- Links that may be unreferenced: new links, and links whose manifest reference went away.
CREATE TABLE gc_link_candidates (
    repo_id  INTEGER NOT NULL,
    digest   TEXT NOT NULL,
    UNIQUE (repo_id, digest)
);
-- Blobs that may have no link: new blob rows, and blobs that lost a link.
CREATE TABLE gc_blob_candidates (
    digest   TEXT NOT NULL UNIQUE
);

-- The one thing a pass cannot learn from rows: blob files without a row, left by a crash or
-- a failed commit between an upload's hard link and its metadata transaction. walk_files asks
-- the next pass to walk every blob file; server_running, still 1 when a server starts, says
-- the previous one did not stop cleanly (berth.lock allows one server per data directory).
CREATE TABLE gc_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    walk_files      INTEGER NOT NULL,
    server_running  INTEGER NOT NULL
);

CREATE TRIGGER gc_link_insert AFTER INSERT ON repo_blobs
BEGIN
    INSERT OR IGNORE INTO gc_link_candidates(repo_id, digest) VALUES (NEW.repo_id, NEW.digest);
END;
CREATE TRIGGER gc_link_delete AFTER DELETE ON repo_blobs
BEGIN
    DELETE FROM gc_link_candidates WHERE repo_id = OLD.repo_id AND digest = OLD.digest;
    INSERT OR IGNORE INTO gc_blob_candidates(digest) VALUES (OLD.digest);
END;
-- Only a reference to a linked digest makes a link candidate (a child manifest has no link).
-- A repository delete cascades here too; whichever of its references and links goes first,
-- the link delete above takes the candidate away again.
CREATE TRIGGER gc_ref_delete AFTER DELETE ON manifest_refs
WHEN EXISTS (SELECT 1 FROM repo_blobs WHERE repo_id = OLD.repo_id AND digest = OLD.child_digest)
BEGIN
    INSERT OR IGNORE INTO gc_link_candidates(repo_id, digest)
        VALUES (OLD.repo_id, OLD.child_digest);
END;
CREATE TRIGGER gc_blob_insert AFTER INSERT ON blobs
BEGIN
    INSERT OR IGNORE INTO gc_blob_candidates(digest) VALUES (NEW.digest);
END;
CREATE TRIGGER gc_blob_delete AFTER DELETE ON blobs
BEGIN
    DELETE FROM gc_blob_candidates WHERE digest = OLD.digest;
END;

-- An existing registry: everything is a candidate once, and its files are walked once. The
-- first pass prunes what is in use (a cost of the registry's size, paid once).
INSERT INTO gc_link_candidates(repo_id, digest) SELECT repo_id, digest FROM repo_blobs;
INSERT INTO gc_blob_candidates(digest) SELECT digest FROM blobs;
INSERT INTO gc_state(id, walk_files, server_running)
    VALUES (1, 1, 0);
