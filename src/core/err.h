/*
 * err — Berth's small set of error codes and the thread-local detail message.
 *
 * Fallible functions return 0 or one negative BERTH_E* code and describe the problem with
 * berth_err_set() where it is found (libgit2's git_error_set). Only the API handlers turn a
 * code into a wire error; they also look at berth_err_what() to know which kind of object the
 * code is about (a missing blob and a missing manifest are both BERTH_ENOTFOUND, but OCI
 * reports them as BLOB_UNKNOWN and MANIFEST_UNKNOWN).
 */
#ifndef BERTH_CORE_ERR_H
#define BERTH_CORE_ERR_H

enum berth_err {
    BERTH_OK = 0,
    BERTH_ENOTFOUND = -1,
    BERTH_EEXISTS = -2,
    BERTH_EINVALID = -3,
    BERTH_EDENIED = -4,
    BERTH_ETOOBIG = -5,
    BERTH_ECONFLICT = -6,
    BERTH_EIO = -7,
    BERTH_EUNAVAILABLE = -8,
    BERTH_ENOMEM = -9,
    BERTH_EUNSUPPORTED = -10,
    BERTH_ERANGE = -11,
};

/* What an error is about; handlers use it with the code to pick the wire error. */
enum berth_what {
    BERTH_WHAT_NONE = 0,
    BERTH_WHAT_REPO,
    BERTH_WHAT_NAME,
    BERTH_WHAT_BLOB,
    BERTH_WHAT_MANIFEST,
    BERTH_WHAT_MANIFEST_REF, /* a blob or child manifest a manifest points at */
    BERTH_WHAT_UPLOAD,
    BERTH_WHAT_TAG,
    BERTH_WHAT_DIGEST,
    BERTH_WHAT_SIZE,
    BERTH_WHAT_RANGE,
    BERTH_WHAT_POLICY, /* an IAM policy document (ECR: InvalidParameterException) */
};

/* Sets the detail message and subject for the current thread; returns code for chaining. */
int berth_err_set(int code, enum berth_what what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *berth_err_detail(void);
enum berth_what berth_err_what(void);
/* The digest or name the error is about, if one was recorded (OCI puts it in "detail"). */
void berth_err_set_subject(const char *s);
const char *berth_err_subject(void);
void berth_err_clear(void);
const char *berth_err_name(int code);

#endif
