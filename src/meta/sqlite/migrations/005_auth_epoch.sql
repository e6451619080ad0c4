-- 005: the auth epoch, a counter that moves whenever anything an access decision depends on
-- changes: accounts (and their registry policies), users, access keys, identity policies and
-- their attachments, repository policies, and repositories going away or changing owner.
-- The server caches allowed decisions under the epoch they were made in; triggers (not the
-- code paths) bump it, so a change made by any process, `berth admin` beside a running
-- server included, invalidates the cache before the writer's transaction commits.

CREATE TABLE auth_epoch (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    n   INTEGER NOT NULL
);
INSERT INTO auth_epoch(id, n) VALUES (1, 0);

CREATE TRIGGER auth_epoch_account_insert AFTER INSERT ON accounts
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_account_update AFTER UPDATE ON accounts
WHEN OLD.registry_policy IS NOT NEW.registry_policy OR OLD.id IS NOT NEW.id
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_account_delete AFTER DELETE ON accounts
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER auth_epoch_user_insert AFTER INSERT ON users
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_user_update AFTER UPDATE ON users
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_user_delete AFTER DELETE ON users
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER auth_epoch_key_insert AFTER INSERT ON access_keys
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_key_update AFTER UPDATE ON access_keys
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_key_delete AFTER DELETE ON access_keys
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER auth_epoch_policy_insert AFTER INSERT ON policies
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_policy_update AFTER UPDATE ON policies
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_policy_delete AFTER DELETE ON policies
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER auth_epoch_attach_insert AFTER INSERT ON user_policies
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_attach_update AFTER UPDATE ON user_policies
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_attach_delete AFTER DELETE ON user_policies
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;

-- A new repository has no policy unless it is created with one; a cached answer made while
-- it did not exist stays right for it. Pushes that create repositories leave the cache alone.
CREATE TRIGGER auth_epoch_repo_insert AFTER INSERT ON repositories
WHEN NEW.policy IS NOT NULL
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_repo_update AFTER UPDATE ON repositories
WHEN OLD.policy IS NOT NEW.policy OR OLD.account_id IS NOT NEW.account_id
    OR OLD.name IS NOT NEW.name
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER auth_epoch_repo_delete AFTER DELETE ON repositories
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
