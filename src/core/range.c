#include "core/range.h"

#include <string.h>

#include "core/err.h"

/* Decimal without sign, at most 19 digits so it never overflows uint64_t. */
static const char *parse_u64(const char *p, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;
    while (*p >= '0' && *p <= '9') {
        if (++n > 19)
            return NULL;
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
    }
    if (n == 0)
        return NULL;
    *out = v;
    return p;
}

int berth_content_range_parse(const char *s, uint64_t *start, uint64_t *end)
{
    if (!s)
        goto bad;
    if (strncmp(s, "bytes=", 6) == 0 || strncmp(s, "bytes ", 6) == 0)
        s += 6;
    const char *p = parse_u64(s, start);
    if (!p || *p != '-')
        goto bad;
    p = parse_u64(p + 1, end);
    if (!p || *p != '\0' || *end < *start)
        goto bad;
    return 0;
bad:
    return berth_err_set(BERTH_EINVALID, BERTH_WHAT_RANGE, "invalid Content-Range");
}

int berth_range_parse(const char *s, uint64_t size, uint64_t *start, uint64_t *end)
{
    if (!s || strncmp(s, "bytes=", 6) != 0)
        return BERTH_EINVALID;
    s += 6;
    uint64_t a, b;
    const char *p;
    if (*s == '-') { /* suffix range: the last N bytes */
        p = parse_u64(s + 1, &b);
        if (!p || *p != '\0')
            return BERTH_EINVALID;
        if (b == 0 || size == 0)
            return BERTH_ERANGE;
        *start = b >= size ? 0 : size - b;
        *end = size - 1;
        return 0;
    }
    p = parse_u64(s, &a);
    if (!p || *p != '-')
        return BERTH_EINVALID;
    p++;
    if (*p == '\0') {
        b = UINT64_MAX;
    } else {
        p = parse_u64(p, &b);
        if (!p || *p != '\0' || b < a)
            return BERTH_EINVALID;
    }
    if (a >= size)
        return BERTH_ERANGE;
    *start = a;
    *end = b >= size ? size - 1 : b;
    return 0;
}
