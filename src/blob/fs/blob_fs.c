/*
 * The filesystem blob driver. On-disk layout under the root directory:
 *
 *   blobs/sha256/<first 2 hex>/<64 hex>   committed blobs, read-only, never rewritten
 *   uploads/<upload id>                    bytes of an upload in progress
 *
 * Commit = fsync(upload) -> hard link into blobs/ -> fsync(the blob's directory); the upload
 * file stays until upload_release, after the metadata row is committed, so a garbage
 * collection that removes the blob in between cannot lose the bytes (docs/gc.md). linkat is
 * atomic and never replaces an existing name, so a crash leaves either the whole blob or none,
 * plus the upload file (which fsck and the upload expiry remove), and two uploads of the same
 * content cannot overwrite each other. Directories are never removed, so creating a blob never
 * races a removal of its directory. Paths are built only from validated digests and from
 * upload ids that the server generated (32 hex), never from other user input.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/blob.h"
#include "core/digest.h"
#include "core/err.h"
#include "core/limits.h"

struct fs {
    char *root;
    int blobs_fd;   /* root/blobs/sha256 */
    int uploads_fd; /* root/uploads */
};

struct berth_blob_writer {
    int fd;
    uint64_t pos;     /* file offset of the next write */
    uint64_t flushed; /* writeback has been started for [0, flushed) */
};

/* Start writeback every 8 MiB so the disk works while the network delivers the rest; the
 * fsync at commit then finds little left to write. It only starts I/O (no waiting, no
 * durability promise), so it costs the request thread nothing. */
#define WRITEBACK_STEP (8u << 20)

static int io_error(const char *what, const char *name)
{
    return berth_err_set(BERTH_EIO, BERTH_WHAT_BLOB, "%s %s: %s", what, name, strerror(errno));
}

/* Upload ids are server-generated hex; refuse anything else before it touches a path. */
static int id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return 1;
}

/* "<2 hex>/<64 hex>" relative to blobs_fd, from a digest the caller has parsed. */
static int rel_path(const char *digest, char out[80])
{
    if (berth_digest_parse(digest, strlen(digest), NULL) < 0)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_DIGEST, "invalid digest");
    const char *hex = berth_digest_hex(digest);
    snprintf(out, 80, "%.2s/%s", hex, hex);
    return 0;
}

static int fs_stat(void *impl, const char *digest, uint64_t *out_size)
{
    struct fs *fs = impl;
    char rel[80];
    struct stat st;
    int rc = rel_path(digest, rel);
    if (rc < 0)
        return rc;
    if (fstatat(fs->blobs_fd, rel, &st, 0) < 0) {
        if (errno == ENOENT)
            return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_BLOB, "blob %s not stored", digest);
        return io_error("stat", digest);
    }
    *out_size = (uint64_t)st.st_size;
    return 0;
}

static int fs_open_read(void *impl, const char *digest, int *out_fd, uint64_t *out_size)
{
    struct fs *fs = impl;
    char rel[80];
    struct stat st;
    int rc = rel_path(digest, rel);
    if (rc < 0)
        return rc;
    int fd = openat(fs->blobs_fd, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_BLOB, "blob %s not stored", digest);
        return io_error("open", digest);
    }
    if (fstat(fd, &st) < 0) {
        close(fd);
        return io_error("stat", digest);
    }
    *out_fd = fd;
    *out_size = (uint64_t)st.st_size;
    return 0;
}

static int fs_remove(void *impl, const char *digest)
{
    struct fs *fs = impl;
    char rel[80];
    int rc = rel_path(digest, rel);
    if (rc < 0)
        return rc;
    if (unlinkat(fs->blobs_fd, rel, 0) < 0 && errno != ENOENT)
        return io_error("remove", digest);
    return 0;
}

static int fs_mtime(void *impl, const char *digest, int64_t *out_mtime)
{
    struct fs *fs = impl;
    char rel[80];
    struct stat st;
    int rc = rel_path(digest, rel);
    if (rc < 0)
        return rc;
    if (fstatat(fs->blobs_fd, rel, &st, 0) < 0) {
        if (errno == ENOENT)
            return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_BLOB, "blob %s not stored", digest);
        return io_error("stat", digest);
    }
    *out_mtime = (int64_t)st.st_mtime;
    return 0;
}

static int fs_iterate(void *impl, berth_blob_iter_cb cb, void *ctx)
{
    struct fs *fs = impl;
    /* A fresh open, not dup(): a dup shares the directory offset, so a second walk would start
     * at the end and see nothing. */
    int dfd = openat(fs->blobs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return io_error("open", "blobs");
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return io_error("open", "blobs");
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (strlen(e->d_name) != 2)
            continue;
        int sub = openat(fs->blobs_fd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sub < 0)
            continue;
        DIR *sd = fdopendir(sub);
        if (!sd) {
            close(sub);
            continue;
        }
        struct dirent *f;
        while (rc == 0 && (f = readdir(sd))) {
            if (f->d_name[0] == '.')
                continue;
            if (strlen(f->d_name) != BERTH_SHA256_HEX_LEN)
                continue; /* not a blob name: nothing Berth wrote */
            char digest[BERTH_DIGEST_BUF];
            snprintf(digest, sizeof(digest), "sha256:%.64s", f->d_name);
            struct stat st;
            if (fstatat(sub, f->d_name, &st, 0) < 0)
                continue;
            rc = cb(ctx, digest, (uint64_t)st.st_size);
        }
        closedir(sd);
    }
    closedir(d);
    return rc;
}

static int fs_upload_open(void *impl, const char *id, uint64_t offset,
                          struct berth_blob_writer **out)
{
    struct fs *fs = impl;
    if (!id_ok(id))
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_UPLOAD, "invalid upload id");
    int flags = O_WRONLY | O_CLOEXEC | (offset == 0 ? O_CREAT : 0);
    int fd = openat(fs->uploads_fd, id, flags, 0600);
    if (fd < 0) {
        if (errno == ENOENT)
            return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_UPLOAD, "upload %s has no data", id);
        return io_error("open upload", id);
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < offset) {
        close(fd);
        return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_UPLOAD,
                             "upload %s lost acknowledged bytes; restart it", id);
    }
    /* Bytes past the acknowledged offset belong to a chunk that failed: drop them. */
    if ((uint64_t)st.st_size > offset && ftruncate(fd, (off_t)offset) < 0) {
        close(fd);
        return io_error("truncate upload", id);
    }
    if (lseek(fd, (off_t)offset, SEEK_SET) < 0) {
        close(fd);
        return io_error("seek upload", id);
    }
    struct berth_blob_writer *w = malloc(sizeof(*w));
    if (!w) {
        close(fd);
        return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
    }
    w->fd = fd;
    w->pos = w->flushed = offset;
    *out = w;
    return 0;
}

static int fs_upload_write(struct berth_blob_writer *w, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return io_error("write", "upload");
        }
        p += n;
        len -= (size_t)n;
        w->pos += (uint64_t)n;
    }
    if (w->pos - w->flushed >= WRITEBACK_STEP) {
        sync_file_range(w->fd, (off64_t)w->flushed, (off64_t)(w->pos - w->flushed),
                        SYNC_FILE_RANGE_WRITE);
        w->flushed = w->pos;
    }
    return 0;
}

static int fs_upload_sync(struct berth_blob_writer *w)
{
    if (fdatasync(w->fd) < 0)
        return io_error("sync", "upload");
    return 0;
}

static void fs_upload_close(struct berth_blob_writer *w)
{
    if (!w)
        return;
    close(w->fd);
    free(w);
}

static int sync_dir(int dirfd, const char *rel)
{
    int fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* Hard-links the (already fsynced) upload under rel and makes the new name durable. EEXIST is
 * success: the blob is stored, and a committed blob is never rewritten. */
static int link_blob(struct fs *fs, const char *id, const char *rel, const char *digest)
{
    char prefix[3] = {rel[0], rel[1], '\0'};
    int created = 0;
    if (mkdirat(fs->blobs_fd, prefix, 0755) == 0)
        created = 1;
    else if (errno != EEXIST)
        return io_error("mkdir", prefix);
    if (created && fsync(fs->blobs_fd) < 0)
        return io_error("sync", "blobs");
    if (linkat(fs->uploads_fd, id, fs->blobs_fd, rel, 0) < 0) {
        if (errno == EEXIST)
            return 0;
        if (errno == ENOENT)
            return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_UPLOAD, "upload %s has no data", id);
        return io_error("commit", digest);
    }
    if (sync_dir(fs->blobs_fd, prefix) < 0)
        return io_error("sync", prefix);
    return 0;
}

static int fs_upload_commit(void *impl, const char *id, const char *digest)
{
    struct fs *fs = impl;
    char rel[80];
    int rc = rel_path(digest, rel);
    if (rc < 0)
        return rc;
    if (!id_ok(id))
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_UPLOAD, "invalid upload id");
    int fd = openat(fs->uploads_fd, id, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_UPLOAD, "upload %s has no data", id);
        return io_error("open upload", id);
    }
    /* The commit is the file's birth as a blob: garbage collection measures its grace for
     * blobs without a metadata row from here, not from the upload's last write. */
    int r = fsync(fd);
    if (r == 0)
        futimens(fd, NULL);
    close(fd);
    if (r < 0)
        return io_error("sync upload", id);
    return link_blob(fs, id, rel, digest);
}

static int fs_upload_release(void *impl, const char *id, const char *digest)
{
    struct fs *fs = impl;
    char rel[80];
    struct stat st;
    int rc = rel_path(digest, rel);
    if (rc < 0)
        return rc;
    if (!id_ok(id))
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_UPLOAD, "invalid upload id");
    if (fstatat(fs->blobs_fd, rel, &st, 0) < 0) {
        if (errno != ENOENT)
            return io_error("stat", digest);
        /* A sweep removed the blob between commit and the metadata row: put it back. The
         * upload was fsynced by upload_commit. */
        if ((rc = link_blob(fs, id, rel, digest)) < 0)
            return rc == BERTH_ENOTFOUND ? io_error("restore", digest) : rc;
    }
    /* The blob is stored and its row committed: an upload file left behind (this unlink
     * failing, or lost in a power failure) is only an upload without a session, which garbage
     * collection removes. So no fsync, and no error for the client. */
    unlinkat(fs->uploads_fd, id, 0);
    return 0;
}

static int fs_upload_remove(void *impl, const char *id)
{
    struct fs *fs = impl;
    if (!id_ok(id))
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_UPLOAD, "invalid upload id");
    if (unlinkat(fs->uploads_fd, id, 0) < 0 && errno != ENOENT)
        return io_error("remove upload", id);
    return 0;
}

static int fs_upload_size(void *impl, const char *id, uint64_t *out_size)
{
    struct fs *fs = impl;
    struct stat st;
    if (!id_ok(id))
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_UPLOAD, "invalid upload id");
    if (fstatat(fs->uploads_fd, id, &st, 0) < 0) {
        if (errno == ENOENT) {
            *out_size = 0;
            return 0;
        }
        return io_error("stat upload", id);
    }
    *out_size = (uint64_t)st.st_size;
    return 0;
}

static int fs_upload_mtime(void *impl, const char *id, int64_t *out_mtime)
{
    struct fs *fs = impl;
    struct stat st;
    if (!id_ok(id))
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_UPLOAD, "invalid upload id");
    if (fstatat(fs->uploads_fd, id, &st, 0) < 0) {
        if (errno == ENOENT)
            return berth_err_set(BERTH_ENOTFOUND, BERTH_WHAT_UPLOAD, "upload %s has no data", id);
        return io_error("stat upload", id);
    }
    *out_mtime = (int64_t)st.st_mtime;
    return 0;
}

static int fs_upload_iterate(void *impl, int (*cb)(void *ctx, const char *id), void *ctx)
{
    struct fs *fs = impl;
    int dfd = openat(fs->uploads_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return io_error("open", "uploads");
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)))
        if (e->d_name[0] != '.')
            rc = cb(ctx, e->d_name);
    closedir(d);
    return rc;
}

static void fs_close(void *impl)
{
    struct fs *fs = impl;
    if (!fs)
        return;
    if (fs->blobs_fd >= 0)
        close(fs->blobs_fd);
    if (fs->uploads_fd >= 0)
        close(fs->uploads_fd);
    free(fs->root);
    free(fs);
}

static const struct berth_blob_ops fs_ops = {
    .version = BERTH_BLOB_OPS_VERSION,
    .close = fs_close,
    .stat = fs_stat,
    .open_read = fs_open_read,
    .remove = fs_remove,
    .iterate = fs_iterate,
    .mtime = fs_mtime,
    .upload_open = fs_upload_open,
    .upload_write = fs_upload_write,
    .upload_sync = fs_upload_sync,
    .upload_close = fs_upload_close,
    .upload_commit = fs_upload_commit,
    .upload_release = fs_upload_release,
    .upload_remove = fs_upload_remove,
    .upload_size = fs_upload_size,
    .upload_mtime = fs_upload_mtime,
    .upload_iterate = fs_upload_iterate,
};

static int mkdir_p(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

int berth_blob_fs_open(struct berth_blob_store **out, const char *dir)
{
    struct berth_blob_store *s = calloc(1, sizeof(*s));
    struct fs *fs = calloc(1, sizeof(*fs));
    char path[4096];
    int rc;
    if (fs)
        fs->blobs_fd = fs->uploads_fd = -1;
    if (!s || !fs || !(fs->root = strdup(dir))) {
        rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/blobs/sha256", dir);
    if (mkdir_p(path) < 0 || (fs->blobs_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = io_error("cannot open blob directory", path);
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/uploads", dir);
    if (mkdir_p(path) < 0 ||
        (fs->uploads_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = io_error("cannot open upload directory", path);
        goto fail;
    }
    s->ops = &fs_ops;
    s->impl = fs;
    *out = s;
    return 0;
fail:
    fs_close(fs);
    free(s);
    return rc;
}
