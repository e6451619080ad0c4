#include "core/name.h"

#include <string.h>

#include "core/err.h"
#include "core/limits.h"

static int alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: alnum+ (sep alnum+)*, sep = "." | "_" | "__" | "-"+ */
static int component_valid(const char *s, size_t len)
{
    size_t i = 0;
    for (;;) {
        size_t start = i;
        while (i < len && alnum(s[i]))
            i++;
        if (i == start)
            return 0;
        if (i == len)
            return 1;
        char c = s[i];
        size_t run = 0;
        while (i < len && s[i] == c) {
            i++;
            run++;
        }
        if (c == '.' && run != 1)
            return 0;
        if (c == '_' && run > 2)
            return 0;
        if (c != '.' && c != '_' && c != '-')
            return 0;
    }
}

int berth_name_valid(const char *s, size_t len)
{
    if (!s || len == 0 || len > BERTH_NAME_MAX)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NAME,
                             "repository name must be 1 to %d characters", BERTH_NAME_MAX);
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            if (!component_valid(s + start, i - start))
                return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NAME,
                                     "invalid repository name: components must match "
                                     "[a-z0-9]+((.|_|__|-+)[a-z0-9]+)*");
            start = i + 1;
        }
    }
    return 0;
}

int berth_tag_valid(const char *s, size_t len)
{
    if (!s || len == 0 || len > BERTH_TAG_MAX)
        goto bad;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || (i > 0 && (c == '.' || c == '-'));
        if (!ok)
            goto bad;
    }
    return 0;
bad:
    return berth_err_set(BERTH_EINVALID, BERTH_WHAT_TAG,
                         "invalid tag: must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");
}

int berth_ref_parse(const char *s, struct berth_ref *out)
{
    memset(out, 0, sizeof(*out));
    size_t len = strlen(s);
    if (memchr(s, ':', len)) {
        int rc = berth_digest_parse(s, len, out->digest);
        if (rc < 0)
            return rc;
        out->is_digest = 1;
        return 0;
    }
    int rc = berth_tag_valid(s, len);
    if (rc < 0)
        return rc;
    memcpy(out->tag, s, len + 1);
    return 0;
}

/* Glob match with '*' only, iterative with one backtrack point (no recursion on hostile
 * input). */
int berth_wildcard_match(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat == *s) {
            pat++;
            s++;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return 0;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}
