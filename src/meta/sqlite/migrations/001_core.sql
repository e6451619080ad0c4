-- 001: the registry core. Repositories, deduplicated blobs with a per-repository link table
-- (the access boundary), manifests with their references, tags and resumable uploads.

CREATE TABLE repositories (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE blobs (
    digest      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Which repository may serve which blob.
CREATE TABLE repo_blobs (
    repo_id     INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest      TEXT NOT NULL REFERENCES blobs(digest),
    linked_at   INTEGER NOT NULL,
    PRIMARY KEY (repo_id, digest)
) WITHOUT ROWID;
CREATE INDEX repo_blobs_digest ON repo_blobs(digest);

CREATE TABLE manifests (
    repo_id            INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest             TEXT NOT NULL,
    media_type         TEXT NOT NULL,
    artifact_type      TEXT,
    config_media_type  TEXT,
    subject_digest     TEXT,
    annotations        TEXT,
    size               INTEGER NOT NULL,
    total_size         INTEGER NOT NULL,
    pushed_at          INTEGER NOT NULL,
    last_pulled_at     INTEGER,
    body               BLOB NOT NULL,
    PRIMARY KEY (repo_id, digest)
);
CREATE INDEX manifests_subject ON manifests(repo_id, subject_digest)
    WHERE subject_digest IS NOT NULL;

-- parent manifest -> child blob (kind 0) or child manifest (kind 1), within one repository.
CREATE TABLE manifest_refs (
    repo_id        INTEGER NOT NULL,
    parent_digest  TEXT NOT NULL,
    child_digest   TEXT NOT NULL,
    kind           INTEGER NOT NULL,
    PRIMARY KEY (repo_id, parent_digest, child_digest),
    FOREIGN KEY (repo_id, parent_digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX manifest_refs_child ON manifest_refs(repo_id, child_digest);

CREATE TABLE tags (
    repo_id     INTEGER NOT NULL,
    name        TEXT NOT NULL,
    digest      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (repo_id, name),
    FOREIGN KEY (repo_id, digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX tags_digest ON tags(repo_id, digest);
-- tags/list order: the spec asks for lexical, case-insensitive order; ties by byte order.
CREATE INDEX tags_order ON tags(repo_id, lower(name), name);

-- An upload names its repository rather than pointing at a row: the repository is created
-- only when content is stored, so a refused or abandoned push leaves no empty repository.
CREATE TABLE uploads (
    id          TEXT PRIMARY KEY,
    repo        TEXT NOT NULL,
    offset      INTEGER NOT NULL,
    hash_state  BLOB NOT NULL,
    started_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
