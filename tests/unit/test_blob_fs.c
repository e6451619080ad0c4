/*
 * Blob store conformance, run through the ops vtable against the filesystem driver in a
 * temporary directory. Another driver must pass the same cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blob/blob.h"
#include "core/digest.h"
#include "core/err.h"

#define ID1 "0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210"

struct fixture {
    char dir[64];
    struct berth_blob_store *s;
    const struct berth_blob_ops *ops;
    void *impl;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-blob-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    if (berth_blob_fs_open(&f->s, f->dir) < 0) {
        rmdir(f->dir);
        free(f);
        return -1;
    }
    f->ops = f->s->ops;
    f->impl = f->s->impl;
    *state = f;
    return 0;
}

/* rm -r for the few levels the driver creates. */
static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[512];
            snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                remove_tree(p);
            else
                unlink(p);
        }
        closedir(d);
    }
    rmdir(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    berth_blob_close(f->s);
    remove_tree(f->dir);
    free(f);
    return 0;
}

static void write_upload(struct fixture *f, const char *id, uint64_t offset, const void *data,
                         size_t len)
{
    struct berth_blob_writer *w = NULL;
    assert_int_equal(f->ops->upload_open(f->impl, id, offset, &w), 0);
    assert_non_null(w);
    assert_int_equal(f->ops->upload_write(w, data, len), 0);
    assert_int_equal(f->ops->upload_sync(w), 0);
    f->ops->upload_close(w);
}

/* Uploads, commits and releases data (what a finished upload does around its metadata row),
 * returning its digest. */
static void store(struct fixture *f, const char *id, const void *data, size_t len,
                  char digest[BERTH_DIGEST_BUF])
{
    berth_sha256_oneshot(data, len, digest);
    write_upload(f, id, 0, data, len);
    assert_int_equal(f->ops->upload_commit(f->impl, id, digest), 0);
    assert_int_equal(f->ops->upload_release(f->impl, id, digest), 0);
}

static uint64_t upload_bytes(struct fixture *f, const char *id)
{
    uint64_t size = 12345;
    assert_int_equal(f->ops->upload_size(f->impl, id, &size), 0);
    return size;
}

/* Reads a whole blob through open_read. */
static size_t read_blob(struct fixture *f, const char *digest, char *out, size_t cap)
{
    int fd = -1;
    uint64_t size = 0;
    assert_int_equal(f->ops->open_read(f->impl, digest, &fd, &size), 0);
    assert_true(fd >= 0);
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 0);
    size_t n = 0;
    ssize_t r;
    while (n < cap && (r = read(fd, out + n, cap - n)) > 0)
        n += (size_t)r;
    close(fd);
    assert_int_equal(n, size);
    return n;
}

static void upload_commit_read(void **state)
{
    struct fixture *f = *state;
    const char data[] = "hello, blob store";
    char digest[BERTH_DIGEST_BUF];
    uint64_t size = 0;
    berth_sha256_oneshot(data, sizeof(data) - 1, digest);

    berth_err_clear();
    assert_int_equal(f->ops->stat(f->impl, digest, &size), BERTH_ENOTFOUND);
    assert_int_equal(berth_err_what(), BERTH_WHAT_BLOB);
    int fd = -1;
    assert_int_equal(f->ops->open_read(f->impl, digest, &fd, &size), BERTH_ENOTFOUND);

    /* Written in three pieces, across two opens. */
    write_upload(f, ID1, 0, data, 5);
    assert_int_equal(f->ops->upload_size(f->impl, ID1, &size), 0);
    assert_int_equal(size, 5);
    struct berth_blob_writer *w;
    assert_int_equal(f->ops->upload_open(f->impl, ID1, 5, &w), 0);
    assert_int_equal(f->ops->upload_write(w, data + 5, 2), 0);
    assert_int_equal(f->ops->upload_write(w, data + 7, sizeof(data) - 1 - 7), 0);
    assert_int_equal(f->ops->upload_sync(w), 0);
    f->ops->upload_close(w);
    assert_int_equal(f->ops->upload_size(f->impl, ID1, &size), 0);
    assert_int_equal(size, sizeof(data) - 1);

    /* Not visible as a blob before the commit. */
    assert_int_equal(f->ops->stat(f->impl, digest, &size), BERTH_ENOTFOUND);
    assert_int_equal(f->ops->upload_commit(f->impl, ID1, digest), 0);
    /* The upload stays until it is released (after the metadata commit). */
    assert_int_equal(upload_bytes(f, ID1), sizeof(data) - 1);
    assert_int_equal(f->ops->upload_release(f->impl, ID1, digest), 0);

    assert_int_equal(f->ops->stat(f->impl, digest, &size), 0);
    assert_int_equal(size, sizeof(data) - 1);
    char buf[64];
    size_t n = read_blob(f, digest, buf, sizeof(buf));
    assert_int_equal(n, sizeof(data) - 1);
    assert_memory_equal(buf, data, n);

    /* The upload is gone once committed. */
    assert_int_equal(f->ops->upload_size(f->impl, ID1, &size), 0);
    assert_int_equal(size, 0);

    uint64_t vsize = 0;
    int ok = 0;
    assert_int_equal(berth_blob_verify(f->s, digest, &vsize, &ok), 0);
    assert_true(ok);
    assert_int_equal(vsize, sizeof(data) - 1);
}

static void empty_blob(void **state)
{
    struct fixture *f = *state;
    char digest[BERTH_DIGEST_BUF];
    store(f, ID1, "", 0, digest);
    assert_string_equal(digest,
                        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    uint64_t size = 99;
    assert_int_equal(f->ops->stat(f->impl, digest, &size), 0);
    assert_int_equal(size, 0);
    int ok = 0;
    assert_int_equal(berth_blob_verify(f->s, digest, &size, &ok), 0);
    assert_true(ok);
}

static void commit_existing_keeps_blob(void **state)
{
    struct fixture *f = *state;
    const char data[] = "the original bytes";
    char digest[BERTH_DIGEST_BUF];
    store(f, ID1, data, sizeof(data) - 1, digest);

    /* A second upload claiming the same digest (different bytes, as if the caller had erred)
     * must not replace the committed blob, neither at commit nor at release. */
    const char other[] = "something else entirely";
    write_upload(f, ID2, 0, other, sizeof(other) - 1);
    assert_int_equal(f->ops->upload_commit(f->impl, ID2, digest), 0);
    assert_int_equal(f->ops->upload_release(f->impl, ID2, digest), 0);

    char buf[64];
    size_t n = read_blob(f, digest, buf, sizeof(buf));
    assert_int_equal(n, sizeof(data) - 1);
    assert_memory_equal(buf, data, n);
    /* ... and the upload was dropped. */
    uint64_t size = 1;
    assert_int_equal(f->ops->upload_size(f->impl, ID2, &size), 0);
    assert_int_equal(size, 0);
    struct berth_blob_writer *w = NULL;
    assert_int_equal(f->ops->upload_open(f->impl, ID2, 5, &w), BERTH_ENOTFOUND);
    assert_null(w);
}

static void reopen_truncates_unacknowledged(void **state)
{
    struct fixture *f = *state;
    const char data[] = "0123456789";
    write_upload(f, ID1, 0, data, 10);
    /* The last chunk (bytes 6..9) was never acknowledged: resume at 6. */
    const char tail[] = "XYZ";
    write_upload(f, ID1, 6, tail, 3);
    uint64_t size = 0;
    assert_int_equal(f->ops->upload_size(f->impl, ID1, &size), 0);
    assert_int_equal(size, 9);

    char digest[BERTH_DIGEST_BUF];
    berth_sha256_oneshot("012345XYZ", 9, digest);
    assert_int_equal(f->ops->upload_commit(f->impl, ID1, digest), 0);
    assert_int_equal(f->ops->upload_release(f->impl, ID1, digest), 0);
    char buf[32];
    size_t n = read_blob(f, digest, buf, sizeof(buf));
    assert_int_equal(n, 9);
    assert_memory_equal(buf, "012345XYZ", 9);

    /* Reopening at 0 starts over. */
    write_upload(f, ID2, 0, "abcdef", 6);
    write_upload(f, ID2, 0, "q", 1);
    assert_int_equal(f->ops->upload_size(f->impl, ID2, &size), 0);
    assert_int_equal(size, 1);

    /* Opening at the exact size appends; opening past it means acknowledged bytes were lost. */
    write_upload(f, ID2, 1, "r", 1);
    assert_int_equal(f->ops->upload_size(f->impl, ID2, &size), 0);
    assert_int_equal(size, 2);
    struct berth_blob_writer *w = NULL;
    assert_true(f->ops->upload_open(f->impl, ID2, 3, &w) < 0);
    assert_null(w);
    assert_int_equal(f->ops->upload_size(f->impl, ID2, &size), 0);
    assert_int_equal(size, 2);
}

static void resume_unknown_upload(void **state)
{
    struct fixture *f = *state;
    struct berth_blob_writer *w = NULL;
    /* offset > 0 never creates: the data of that upload is gone. */
    assert_int_equal(f->ops->upload_open(f->impl, ID1, 10, &w), BERTH_ENOTFOUND);
    assert_null(w);
    uint64_t size = 7;
    assert_int_equal(f->ops->upload_size(f->impl, ID1, &size), 0);
    assert_int_equal(size, 0);
}

static void invalid_upload_ids(void **state)
{
    struct fixture *f = *state;
    const char *bad[] = {"../x",
                         "ABC",
                         "",
                         "a/b",
                         "..",
                         ".",
                         "0123456789abcdeg",
                         "abc\n",
                         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"};
    char digest[BERTH_DIGEST_BUF];
    berth_sha256_oneshot("x", 1, digest);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct berth_blob_writer *w = NULL;
        uint64_t size;
        berth_err_clear();
        if (f->ops->upload_open(f->impl, bad[i], 0, &w) != BERTH_EINVALID)
            fail_msg("upload_open accepted id '%s'", bad[i]);
        assert_null(w);
        assert_int_equal(berth_err_what(), BERTH_WHAT_UPLOAD);
        assert_int_equal(f->ops->upload_commit(f->impl, bad[i], digest), BERTH_EINVALID);
        assert_int_equal(f->ops->upload_release(f->impl, bad[i], digest), BERTH_EINVALID);
        assert_int_equal(f->ops->upload_remove(f->impl, bad[i]), BERTH_EINVALID);
        assert_int_equal(f->ops->upload_size(f->impl, bad[i], &size), BERTH_EINVALID);
    }
    /* Nothing was created outside the uploads directory. */
    char p[128];
    struct stat st;
    snprintf(p, sizeof(p), "%s/x", f->dir);
    assert_int_equal(stat(p, &st), -1);
}

static void invalid_digests(void **state)
{
    struct fixture *f = *state;
    const char *bad[] = {
        "sha256:abc", "sha256:../../../../etc/passwd", "",
        "sha512:00000000000000000000000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"};
    write_upload(f, ID1, 0, "x", 1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t size;
        int fd = -1;
        assert_int_equal(f->ops->stat(f->impl, bad[i], &size), BERTH_EINVALID);
        assert_int_equal(f->ops->open_read(f->impl, bad[i], &fd, &size), BERTH_EINVALID);
        assert_int_equal(fd, -1);
        assert_int_equal(f->ops->remove(f->impl, bad[i]), BERTH_EINVALID);
        assert_int_equal(f->ops->upload_commit(f->impl, ID1, bad[i]), BERTH_EINVALID);
        assert_int_equal(f->ops->upload_release(f->impl, ID1, bad[i]), BERTH_EINVALID);
    }
    /* The refused commits left the upload in place. */
    uint64_t size = 0;
    assert_int_equal(f->ops->upload_size(f->impl, ID1, &size), 0);
    assert_int_equal(size, 1);
}

static void remove_blob(void **state)
{
    struct fixture *f = *state;
    char digest[BERTH_DIGEST_BUF];
    store(f, ID1, "remove me", 9, digest);
    uint64_t size;
    assert_int_equal(f->ops->stat(f->impl, digest, &size), 0);
    assert_int_equal(f->ops->remove(f->impl, digest), 0);
    assert_int_equal(f->ops->stat(f->impl, digest, &size), BERTH_ENOTFOUND);
    /* Removing what is not there is not an error (a repeated GC pass). */
    assert_int_equal(f->ops->remove(f->impl, digest), 0);
    /* The same content can be stored again. */
    store(f, ID2, "remove me", 9, digest);
    assert_int_equal(f->ops->stat(f->impl, digest, &size), 0);
    assert_int_equal(size, 9);
}

static void remove_upload(void **state)
{
    struct fixture *f = *state;
    write_upload(f, ID1, 0, "abc", 3);
    assert_int_equal(f->ops->upload_remove(f->impl, ID1), 0);
    uint64_t size = 1;
    assert_int_equal(f->ops->upload_size(f->impl, ID1, &size), 0);
    assert_int_equal(size, 0);
    assert_int_equal(f->ops->upload_remove(f->impl, ID1), 0);
    char digest[BERTH_DIGEST_BUF];
    berth_sha256_oneshot("abc", 3, digest);
    berth_err_clear();
    assert_int_equal(f->ops->upload_commit(f->impl, ID1, digest), BERTH_ENOTFOUND);
    assert_int_equal(berth_err_what(), BERTH_WHAT_UPLOAD);
    assert_int_equal(f->ops->stat(f->impl, digest, &size), BERTH_ENOTFOUND);
}

/* Garbage collection may remove a blob no metadata row records yet, which is what a blob is
 * between upload_commit and its row's commit. The kept upload brings it back. */
static void release_restores_swept_blob(void **state)
{
    struct fixture *f = *state;
    const char data[] = "swept while its row was being written";
    char digest[BERTH_DIGEST_BUF];
    berth_sha256_oneshot(data, sizeof(data) - 1, digest);
    write_upload(f, ID1, 0, data, sizeof(data) - 1);
    assert_int_equal(f->ops->upload_commit(f->impl, ID1, digest), 0);
    assert_int_equal(f->ops->remove(f->impl, digest), 0);
    uint64_t size;
    assert_int_equal(f->ops->stat(f->impl, digest, &size), BERTH_ENOTFOUND);

    assert_int_equal(f->ops->upload_release(f->impl, ID1, digest), 0);
    char buf[64];
    size_t n = read_blob(f, digest, buf, sizeof(buf));
    assert_int_equal(n, sizeof(data) - 1);
    assert_memory_equal(buf, data, n);
    assert_int_equal(upload_bytes(f, ID1), 0);
    int ok = 0;
    assert_int_equal(berth_blob_verify(f->s, digest, &size, &ok), 0);
    assert_true(ok);

    /* The same when the blob existed before the upload (a deduplicated upload). */
    write_upload(f, ID2, 0, data, sizeof(data) - 1);
    assert_int_equal(f->ops->upload_commit(f->impl, ID2, digest), 0);
    assert_int_equal(f->ops->remove(f->impl, digest), 0);
    assert_int_equal(f->ops->upload_release(f->impl, ID2, digest), 0);
    n = read_blob(f, digest, buf, sizeof(buf));
    assert_int_equal(n, sizeof(data) - 1);
    assert_memory_equal(buf, data, n);
    assert_int_equal(upload_bytes(f, ID2), 0);

    /* Releasing twice, or releasing an upload that is gone while the blob is stored, is fine;
     * with neither the blob nor the upload there, the bytes are lost and release says so. */
    assert_int_equal(f->ops->upload_release(f->impl, ID2, digest), 0);
    assert_int_equal(f->ops->remove(f->impl, digest), 0);
    assert_int_equal(f->ops->upload_release(f->impl, ID2, digest), BERTH_EIO);
}

/* The bytes commit placed and the upload are one file: removing the upload name (an expiry
 * racing the commit) leaves the blob whole. */
static void commit_survives_upload_removal(void **state)
{
    struct fixture *f = *state;
    const char data[] = "one inode, two names";
    char digest[BERTH_DIGEST_BUF];
    berth_sha256_oneshot(data, sizeof(data) - 1, digest);
    write_upload(f, ID1, 0, data, sizeof(data) - 1);
    assert_int_equal(f->ops->upload_commit(f->impl, ID1, digest), 0);
    assert_int_equal(f->ops->upload_remove(f->impl, ID1), 0);
    assert_int_equal(f->ops->upload_release(f->impl, ID1, digest), 0);
    char buf[64];
    size_t n = read_blob(f, digest, buf, sizeof(buf));
    assert_int_equal(n, sizeof(data) - 1);
    assert_memory_equal(buf, data, n);
}

static void mtimes(void **state)
{
    struct fixture *f = *state;
    int64_t t = 0;
    char digest[BERTH_DIGEST_BUF];
    berth_sha256_oneshot("aged", 4, digest);
    berth_err_clear();
    assert_int_equal(f->ops->mtime(f->impl, digest, &t), BERTH_ENOTFOUND);
    assert_int_equal(berth_err_what(), BERTH_WHAT_BLOB);
    assert_int_equal(f->ops->upload_mtime(f->impl, ID1, &t), BERTH_ENOTFOUND);
    assert_int_equal(f->ops->upload_mtime(f->impl, "../x", &t), BERTH_EINVALID);
    assert_int_equal(f->ops->mtime(f->impl, "sha256:abc", &t), BERTH_EINVALID);

    /* An upload last written long ago... */
    write_upload(f, ID1, 0, "aged", 4);
    char path[256];
    snprintf(path, sizeof(path), "%s/uploads/%s", f->dir, ID1);
    struct timespec old[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
    assert_int_equal(f->ops->upload_mtime(f->impl, ID1, &t), 0);
    assert_int_equal(t, 1000000000);

    /* ...becomes a blob that is new: its age counts from the commit. */
    int64_t before = (int64_t)time(NULL);
    assert_int_equal(f->ops->upload_commit(f->impl, ID1, digest), 0);
    assert_int_equal(f->ops->mtime(f->impl, digest, &t), 0);
    assert_true(t >= before);
    assert_int_equal(f->ops->upload_release(f->impl, ID1, digest), 0);
}

struct seen {
    char digest[8][BERTH_DIGEST_BUF];
    uint64_t size[8];
    int n;
};

static int collect(void *ctx, const char *digest, uint64_t size)
{
    struct seen *s = ctx;
    if (s->n < 8) {
        snprintf(s->digest[s->n], BERTH_DIGEST_BUF, "%s", digest);
        s->size[s->n] = size;
    }
    s->n++;
    return 0;
}

static int find(const struct seen *s, const char *digest)
{
    for (int i = 0; i < s->n && i < 8; i++)
        if (!strcmp(s->digest[i], digest))
            return i;
    return -1;
}

static int stop_now(void *ctx, const char *digest, uint64_t size)
{
    (*(int *)ctx)++;
    return BERTH_ECONFLICT;
}

static void iterate_blobs(void **state)
{
    struct fixture *f = *state;
    struct seen s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(f->ops->iterate(f->impl, collect, &s), 0);
    assert_int_equal(s.n, 0);

    char d1[BERTH_DIGEST_BUF], d2[BERTH_DIGEST_BUF], d3[BERTH_DIGEST_BUF];
    store(f, ID1, "one", 3, d1);
    store(f, ID2, "three", 5, d2);
    store(f, "aa", "", 0, d3);
    /* An unfinished upload is not a blob. */
    write_upload(f, "bb", 0, "pending", 7);

    memset(&s, 0, sizeof(s));
    assert_int_equal(f->ops->iterate(f->impl, collect, &s), 0);
    assert_int_equal(s.n, 3);
    int i1 = find(&s, d1), i2 = find(&s, d2), i3 = find(&s, d3);
    assert_true(i1 >= 0 && i2 >= 0 && i3 >= 0);
    assert_int_equal(s.size[i1], 3);
    assert_int_equal(s.size[i2], 5);
    assert_int_equal(s.size[i3], 0);

    /* A callback's error stops the walk and is returned. */
    int calls = 0;
    assert_int_equal(f->ops->iterate(f->impl, stop_now, &calls), BERTH_ECONFLICT);
    assert_int_equal(calls, 1);
}

static void iterate_repeatable(void **state)
{
    struct fixture *f = *state;
    char d[BERTH_DIGEST_BUF];
    store(f, ID1, "one", 3, d);
    /* Every walk sees every blob, not only the first walk after the store was opened. */
    for (int round = 0; round < 3; round++) {
        struct seen s;
        memset(&s, 0, sizeof(s));
        assert_int_equal(f->ops->iterate(f->impl, collect, &s), 0);
        if (s.n != 1)
            fail_msg("walk %d saw %d blobs, want 1", round + 1, s.n);
        assert_string_equal(s.digest[0], d);
    }
}

static int collect_id(void *ctx, const char *id)
{
    struct seen *s = ctx;
    if (s->n < 8)
        snprintf(s->digest[s->n], BERTH_DIGEST_BUF, "%s", id);
    s->n++;
    return 0;
}

static void iterate_uploads(void **state)
{
    struct fixture *f = *state;
    write_upload(f, ID1, 0, "a", 1);
    write_upload(f, ID2, 0, "b", 1);
    struct seen s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(f->ops->upload_iterate(f->impl, collect_id, &s), 0);
    assert_int_equal(s.n, 2);
    assert_true(find(&s, ID1) >= 0);
    assert_true(find(&s, ID2) >= 0);
}

static void iterate_uploads_repeatable(void **state)
{
    struct fixture *f = *state;
    write_upload(f, ID1, 0, "a", 1);
    for (int round = 0; round < 3; round++) {
        struct seen s;
        memset(&s, 0, sizeof(s));
        assert_int_equal(f->ops->upload_iterate(f->impl, collect_id, &s), 0);
        if (s.n != 1)
            fail_msg("walk %d saw %d uploads, want 1", round + 1, s.n);
        assert_string_equal(s.digest[0], ID1);
    }
}

static void verify_detects_corruption(void **state)
{
    struct fixture *f = *state;
    char digest[BERTH_DIGEST_BUF];
    store(f, ID1, "pristine content", 16, digest);
    uint64_t size = 0;
    int ok = 0;
    assert_int_equal(berth_blob_verify(f->s, digest, &size, &ok), 0);
    assert_true(ok);

    /* Flip one byte behind the driver's back (bit rot, a bad disk). */
    char path[256];
    const char *hex = berth_digest_hex(digest);
    snprintf(path, sizeof(path), "%s/blobs/sha256/%.2s/%s", f->dir, hex, hex);
    assert_int_equal(chmod(path, 0600), 0);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "P", 1, 0), 1);
    close(fd);

    ok = 1;
    assert_int_equal(berth_blob_verify(f->s, digest, &size, &ok), 0);
    assert_false(ok);
    assert_int_equal(size, 16);

    /* Truncation is caught too. */
    assert_int_equal(truncate(path, 4), 0);
    ok = 1;
    assert_int_equal(berth_blob_verify(f->s, digest, &size, &ok), 0);
    assert_false(ok);
    assert_int_equal(size, 4);

    char missing[BERTH_DIGEST_BUF];
    berth_sha256_oneshot("never stored", 12, missing);
    assert_int_equal(berth_blob_verify(f->s, missing, &size, &ok), BERTH_ENOTFOUND);
}

static void large_blob(void **state)
{
    struct fixture *f = *state;
    enum { SIZE = 3 * 1024 * 1024 + 17 };
    unsigned char *data = malloc(SIZE);
    assert_non_null(data);
    for (size_t i = 0; i < SIZE; i++)
        data[i] = (unsigned char)(i * 31 + (i >> 11));
    struct berth_blob_writer *w;
    assert_int_equal(f->ops->upload_open(f->impl, ID1, 0, &w), 0);
    for (size_t off = 0; off < SIZE; off += 65536)
        assert_int_equal(
            f->ops->upload_write(w, data + off, off + 65536 > SIZE ? SIZE - off : 65536), 0);
    assert_int_equal(f->ops->upload_sync(w), 0);
    f->ops->upload_close(w);
    char digest[BERTH_DIGEST_BUF];
    berth_sha256_oneshot(data, SIZE, digest);
    assert_int_equal(f->ops->upload_commit(f->impl, ID1, digest), 0);
    assert_int_equal(f->ops->upload_release(f->impl, ID1, digest), 0);
    uint64_t size = 0;
    int ok = 0;
    assert_int_equal(berth_blob_verify(f->s, digest, &size, &ok), 0);
    assert_true(ok);
    assert_int_equal(size, SIZE);
    free(data);
}

static void reopen_store_sees_blobs(void **state)
{
    struct fixture *f = *state;
    char digest[BERTH_DIGEST_BUF];
    store(f, ID1, "durable", 7, digest);
    write_upload(f, ID2, 0, "half", 4);
    berth_blob_close(f->s);
    assert_int_equal(berth_blob_fs_open(&f->s, f->dir), 0);
    f->ops = f->s->ops;
    f->impl = f->s->impl;
    uint64_t size = 0;
    assert_int_equal(f->ops->stat(f->impl, digest, &size), 0);
    assert_int_equal(size, 7);
    assert_int_equal(f->ops->upload_size(f->impl, ID2, &size), 0);
    assert_int_equal(size, 4);
}

static void open_creates_nested_dir(void **state)
{
    struct fixture *f = *state;
    char nested[128];
    snprintf(nested, sizeof(nested), "%s/a/b/c", f->dir);
    struct berth_blob_store *s = NULL;
    assert_int_equal(berth_blob_fs_open(&s, nested), 0);
    assert_int_equal(s->ops->version, BERTH_BLOB_OPS_VERSION);
    berth_blob_close(s);
    berth_blob_close(NULL);

    /* A file where the directory should be. */
    char file[128];
    snprintf(file, sizeof(file), "%s/plainfile", f->dir);
    int fd = open(file, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    s = NULL;
    assert_true(berth_blob_fs_open(&s, file) < 0);
    assert_null(s);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(upload_commit_read),
        T(empty_blob),
        T(commit_existing_keeps_blob),
        T(reopen_truncates_unacknowledged),
        T(resume_unknown_upload),
        T(invalid_upload_ids),
        T(invalid_digests),
        T(remove_blob),
        T(remove_upload),
        T(release_restores_swept_blob),
        T(commit_survives_upload_removal),
        T(mtimes),
        T(iterate_blobs),
        T(iterate_repeatable),
        T(iterate_uploads),
        T(iterate_uploads_repeatable),
        T(verify_detects_corruption),
        T(large_blob),
        T(reopen_store_sees_blobs),
        T(open_creates_nested_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
