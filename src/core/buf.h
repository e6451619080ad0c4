/*
 * buf — a growable byte buffer with a mandatory maximum (curl's dynbuf).
 *
 * Everything sized by input goes through one of these, so a hostile Content-Length or a
 * never-ending body costs at most `max` bytes. The data is always NUL-terminated.
 */
#ifndef BERTH_CORE_BUF_H
#define BERTH_CORE_BUF_H

#include <stddef.h>

struct berth_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

void berth_buf_init(struct berth_buf *b, size_t max);
/* BERTH_ETOOBIG when the result would exceed max; the buffer is unchanged then. */
int berth_buf_append(struct berth_buf *b, const void *data, size_t len);
int berth_buf_printf(struct berth_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hands the bytes to the caller (free() them); the buffer is empty afterwards. */
char *berth_buf_detach(struct berth_buf *b, size_t *len);
void berth_buf_dispose(struct berth_buf *b);

#endif
