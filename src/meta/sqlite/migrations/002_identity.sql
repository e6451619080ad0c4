-- 002: identity (accounts, IAM users, access keys, identity policies) and the ECR control
-- plane's repository settings. Repositories become per-account: the same name may exist in
-- two accounts, as in ECR.

CREATE TABLE accounts (
    id               TEXT PRIMARY KEY,  -- 12 digits
    created_at       INTEGER NOT NULL,
    registry_policy  TEXT               -- ECR registry policy (IAM JSON) or NULL
) WITHOUT ROWID;

CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    name        TEXT NOT NULL,
    is_admin    INTEGER NOT NULL DEFAULT 0,  -- the account's root: implicitly allowed
    created_at  INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

-- The secret is kept (SigV4 verification needs it), sealed with the server's master key.
CREATE TABLE access_keys (
    id          TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret      BLOB NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX access_keys_user ON access_keys(user_id);

CREATE TABLE policies (
    id          INTEGER PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    name        TEXT NOT NULL,
    document    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE user_policies (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    policy_id  INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, policy_id)
) WITHOUT ROWID;

-- Repositories rebuilt with an owning account (SQLite cannot change a UNIQUE constraint in
-- place). Rows from before accounts existed get account_id '' and are adopted by the
-- server's default account at start-up, since only the running server knows that id.
CREATE TABLE repositories_new (
    id                      INTEGER PRIMARY KEY,
    account_id              TEXT NOT NULL,
    name                    TEXT NOT NULL,
    created_at              INTEGER NOT NULL,
    tag_mutability          TEXT NOT NULL DEFAULT 'MUTABLE',
    tag_mutability_filters  TEXT,              -- JSON array of {filterType, filter}
    scan_on_push            INTEGER NOT NULL DEFAULT 0,
    encryption_type         TEXT NOT NULL DEFAULT 'AES256',
    kms_key                 TEXT,
    policy                  TEXT,              -- repository policy (IAM JSON)
    resource_tags           TEXT,              -- JSON array of {Key, Value}
    UNIQUE (account_id, name)
);
INSERT INTO repositories_new(id, account_id, name, created_at)
    SELECT id, '', name, created_at FROM repositories;
DROP TABLE repositories;
ALTER TABLE repositories_new RENAME TO repositories;

ALTER TABLE uploads ADD COLUMN account_id TEXT NOT NULL DEFAULT '';
