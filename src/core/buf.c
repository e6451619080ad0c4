#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

void berth_buf_init(struct berth_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

static int reserve(struct berth_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return berth_err_set(BERTH_ETOOBIG, BERTH_WHAT_SIZE, "body exceeds %zu bytes", b->max);
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
    b->data = p;
    b->cap = cap;
    return 0;
}

int berth_buf_append(struct berth_buf *b, const void *data, size_t len)
{
    int rc = reserve(b, len);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int berth_buf_printf(struct berth_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE, "format error");
    int rc = reserve(b, (size_t)n);
    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *berth_buf_detach(struct berth_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    if (!p) {
        p = calloc(1, 1);
        if (len)
            *len = 0;
    }
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void berth_buf_dispose(struct berth_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
