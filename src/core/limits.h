/*
 * limits — every built-in bound in one place, each with its reason (SQLite's sqliteLimit.h).
 * Operator-tunable limits have their defaults here and their settings in server/config.c.
 */
#ifndef BERTH_CORE_LIMITS_H
#define BERTH_CORE_LIMITS_H

/* The OCI distribution spec lets registries reject manifests over 4 MiB; clients never send
 * bigger ones, and the whole body is held in memory to validate it. */
#define BERTH_MANIFEST_MAX_DEFAULT (4u * 1024 * 1024)

/* distribution caps a repository name at 255 characters, including the registry host; we
 * cap the path part at the same number so names round-trip through every client. */
#define BERTH_NAME_MAX 255

/* Tag grammar: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. */
#define BERTH_TAG_MAX 128

/* "sha256:" + 64 hex; sha512 would be 7+128. Longer references are rejected before parsing. */
#define BERTH_DIGEST_STR_MAX 136

/* Pagination: the most rows one tags/list, catalog or referrers page returns. */
#define BERTH_PAGE_MAX 10000
#define BERTH_PAGE_DEFAULT 1000

/* Bodies of requests that are neither blobs nor manifests (there are none in the OCI API yet):
 * anything else is discarded after this many bytes. */
#define BERTH_SMALL_BODY_MAX (64u * 1024)

/* Request line plus headers: generous for bearer tokens, far below anything abusive. */
#define BERTH_HEADER_MAX_DEFAULT (64u * 1024)

/* Per-connection memory in libmicrohttpd (headers + receive buffer). libmicrohttpd 0.9.75 zeroes
 * the whole pool before each request on a kept-alive connection, so every small request pays
 * for its size, and a busy connection keeps all of it resident. At 512 KiB an authenticated
 * manifest GET cost ~48 us of server CPU against ~36 us at 128 KiB, and peak RSS under 64
 * connections was 45 MiB against 20; 256 MiB pushes did not measurably differ on this class
 * of machine, where the page-cache copy dominates (docs/performance.md). */
#define BERTH_CONN_MEM_DEFAULT (128u * 1024)

/* File responses (blob GETs) up to this size are read and sent from memory, not sendfile()d. */
#define BERTH_FD_INLINE_MAX (16u * 1024)

/* Upload sessions open at once across the server; beyond it POST answers 429. */
#define BERTH_UPLOADS_MAX_DEFAULT 1024

/* Seconds a connection may stay idle (no bytes either way) before it is closed. */
#define BERTH_TIMEOUT_DEFAULT 120

/* Seconds SIGTERM waits for in-flight requests before giving up on them. */
#define BERTH_DRAIN_DEFAULT 30

/* Upload ids are 32 hex characters (128 random bits). */
#define BERTH_UPLOAD_ID_LEN 32

/* IAM policy documents (identity, repository and registry policies). ECR's SetRepositoryPolicy
 * and PutRegistryPolicy cap policyText at 10,240 characters, the largest of the three kinds, so
 * one bound serves all of them. */
#define BERTH_POLICY_MAX 10240

/* The deepest well-formed policy nests six levels (document, Statement array, statement,
 * Condition, operator, key's value array); anything deeper is refused before jansson recurses. */
#define BERTH_POLICY_DEPTH_MAX 8

/* lastRecordedPullTime is refreshed at most this often per image, so a busy image costs one
 * metadata write an hour, not one per pull (ECR refreshes it "at least once every 24 hours"). */
#define BERTH_PULL_RECORD_INTERVAL 3600

/* Lifecycle policies. The text bounds are the model's (LifecyclePolicyText 100..30720); AWS
 * documents at most 4 wildcards per tag pattern and 50 rules per policy. The tag-list and
 * count bounds are Berth's: generous, but they keep evaluation cost and integer math bounded. */
#define BERTH_LC_TEXT_MIN 100
#define BERTH_LC_TEXT_MAX 30720
#define BERTH_LC_RULES_MAX 50
#define BERTH_LC_WILDCARDS_MAX 4
#define BERTH_LC_TAGS_MAX 100
#define BERTH_LC_TAG_LEN_MAX 300
#define BERTH_LC_COUNT_MAX 2147483647

/* Storage accounting: pulls and bytes served are counted in memory and written this often (and
 * at shutdown), so the hot read paths never wait for a database write. A crash loses at most
 * this many seconds of counts. */
#define BERTH_USAGE_FLUSH_INTERVAL 10

/* Distinct (repository, day) counters held between two flushes. Only that many repositories
 * pulled from within one interval would reach it; beyond it counts are dropped (and logged)
 * rather than growing memory with the request rate. 32 bytes each: 2 MiB at most. */
#define BERTH_USAGE_PENDING_MAX 65536

/* `berth admin usage` reports pulls and bytes served over the last this many days (the day of
 * the registry clock and the ones before it). */
#define BERTH_USAGE_WINDOW_DAYS 30

#endif
