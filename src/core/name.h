/*
 * name — the OCI grammars for repository names, tags and references.
 *
 * A name is the only user input that becomes part of a URL Berth emits and of log lines, so
 * it is validated before any handler looks at it. Names never become file paths: blobs are
 * stored by digest and repositories live only in the metadata store.
 */
#ifndef BERTH_CORE_NAME_H
#define BERTH_CORE_NAME_H

#include <stddef.h>

#include "core/digest.h"

/* IMPLEMENTATION-OF distribution-spec: <name> matches
 * [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)* */
int berth_name_valid(const char *s, size_t len);
/* [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} */
int berth_tag_valid(const char *s, size_t len);

/* A manifest reference is a tag or a digest. On success exactly one of tag/digest is set. */
struct berth_ref {
    int is_digest;
    char digest[BERTH_DIGEST_BUF];
    char tag[129];
};
int berth_ref_parse(const char *s, struct berth_ref *out);

/* Does pattern match the whole of s? `*` stands for any run of characters, including none;
 * every other character matches itself (ECR's WILDCARD tag filters and lifecycle
 * tagPatternList). */
int berth_wildcard_match(const char *pattern, const char *s);

#endif
