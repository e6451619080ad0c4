-- 006: indexes for registries with many tags, manifests and repositories (measured by
-- bench/scale; see docs/performance.md). Berth never runs ANALYZE, so SQLite plans from
-- the schema alone, and where two indexes could serve it preferred the one that skips a sort
-- or covers a column over the one that narrows the search: each index below serves its
-- statements' filter, order and columns at once. test_meta_plans checks the plans.
-- IF [NOT] EXISTS so that renumbering this file is harmless.

-- An image's tags, in tags/list order (DescribeImages, ListImages and lifecycle evaluation
-- ask once per image). Through tags_order every tag of the repository was filtered for each
-- image: at 100,000 tags 45 ms per image, 4.5 s per DescribeImages page. Replaces
-- tags_digest, its prefix (the foreign key to manifests, the tagged/untagged filters).
CREATE INDEX IF NOT EXISTS tags_digest_order ON tags(repo_id, digest, lower(name), name);
DROP INDEX IF EXISTS tags_digest;

-- Who references a manifest or blob, by kind: the manifest DELETE's "listed by an index?"
-- check, the blob DELETE's "used by a manifest?", lifecycle's image list ("not a child of an
-- index") and its parents-of lookups. They need `kind`, which manifest_refs_child lacks, so
-- they went through the primary key with repo_id alone: every reference of the repository per
-- question, and a lifecycle evaluation of 10,000 images took 30 s. Replaces
-- manifest_refs_child, its prefix (garbage collection's "is this link referenced").
CREATE INDEX IF NOT EXISTS manifest_refs_child_kind ON manifest_refs(repo_id, child_digest, kind);
DROP INDEX IF EXISTS manifest_refs_child;

-- A subject's referrers in digest order (GET /v2/<name>/referrers/<digest>, lifecycle's
-- cascade). With manifests_subject(repo_id, subject_digest) SQLite read every manifest of the
-- repository in digest order instead, to skip the sort. Replaces it.
CREATE INDEX IF NOT EXISTS manifests_subject_digest ON manifests(repo_id, subject_digest, digest)
    WHERE subject_digest IS NOT NULL;
DROP INDEX IF EXISTS manifests_subject;

-- The repositories that have a lifecycle policy, in the order a lifecycle run visits them,
-- without reading every repository row.
CREATE INDEX IF NOT EXISTS repositories_lifecycle ON repositories(account_id, name)
    WHERE lifecycle_policy IS NOT NULL;
