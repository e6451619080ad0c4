#include "blob/blob.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/digest.h"
#include "core/err.h"

void berth_blob_close(struct berth_blob_store *s)
{
    if (!s)
        return;
    s->ops->close(s->impl);
    free(s);
}

int berth_blob_verify(struct berth_blob_store *s, const char *digest, uint64_t *out_size,
                      int *out_ok)
{
    int fd;
    uint64_t size;
    int rc = s->ops->open_read(s->impl, digest, &fd, &size);
    if (rc < 0)
        return rc;
    struct berth_sha256 h;
    berth_sha256_init(&h);
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    if (!buf) {
        close(fd);
        return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
    }
    uint64_t total = 0;
    ssize_t n;
    while ((n = read(fd, buf, CHUNK)) > 0) {
        berth_sha256_update(&h, buf, (size_t)n);
        total += (uint64_t)n;
    }
    free(buf);
    close(fd);
    if (n < 0)
        return berth_err_set(BERTH_EIO, BERTH_WHAT_BLOB, "cannot read blob %s", digest);
    char got[BERTH_DIGEST_BUF];
    berth_sha256_peek(&h, got);
    *out_size = total;
    *out_ok = strcmp(got, digest) == 0;
    return 0;
}
