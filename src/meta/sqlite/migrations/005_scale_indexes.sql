-- 005: indexes for registries with many tags and repositories (measured by bench/scale; see
-- docs/performance-scale.md). IF [NOT] EXISTS so that renumbering this file is harmless.
--
-- An image's tags, in tags/list order: DescribeImages, ListImages and lifecycle evaluation ask
-- for them once per image. With tags_digest(repo_id, digest) and tags_order(repo_id,
-- lower(name), name) only, SQLite chose tags_order to skip the sort and filtered every tag of
-- the repository for each image: at 100,000 tags one image's tags took 45 ms, a DescribeImages
-- page of 100 images 4.5 s. This index serves the filter and the order, and whatever
-- tags_digest served (its prefix: the foreign key to manifests, the tagged/untagged filters).
CREATE INDEX IF NOT EXISTS tags_digest_order ON tags(repo_id, digest, lower(name), name);
DROP INDEX IF EXISTS tags_digest;

-- The repositories that have a lifecycle policy, in the order a lifecycle run visits them,
-- without reading every repository row.
CREATE INDEX IF NOT EXISTS repositories_lifecycle ON repositories(account_id, name)
    WHERE lifecycle_policy IS NOT NULL;
