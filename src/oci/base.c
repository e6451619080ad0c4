/* GET /v2/ (version check), GET /v2/_catalog, and the answer for paths no route knows. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#include "oci/oci.h"

static void base_finish(struct berth_req *req)
{
    berth_req_respond(req, 200, "application/json", "{}", 2);
}
const struct berth_handler oci_base = {.finish = base_finish};

static void fallback_finish(struct berth_req *req)
{
    if (req->route_miss == 431)
        oci_error_code(req, 431, "UNSUPPORTED", "request headers are too large");
    else if (req->route_miss == 405)
        oci_error_code(req, 405, "UNSUPPORTED", "method not allowed on this endpoint");
    else
        oci_error_code(req, 404, "UNSUPPORTED", "no such endpoint");
}
/* Answers in start, so a body sent to an unknown endpoint is never read. */
const struct berth_handler berth_oci_fallback = {.start = fallback_finish};

static void catalog_finish(struct berth_req *req)
{
    int n;
    if (oci_page_size(req, &n) < 0)
        return;
    struct berth_strlist names = {0};
    const char *last = berth_req_query(req, "last");
    /* one more than asked, to know whether a next page exists */
    int rc = berth_registry_catalog(oci_ctx(req)->registry, OCI_ACCOUNT(req), last, n + 1, &names);
    if (rc < 0) {
        oci_error(req, rc);
        return;
    }
    size_t shown = names.n > (size_t)n ? (size_t)n : names.n;
    if (names.n > (size_t)n && n > 0)
        oci_link_next(req, "/v2/_catalog", names.items[n - 1], n);
    oci_respond_list(req, NULL, "repositories", names.items, shown);
    berth_strlist_dispose(&names);
}
const struct berth_handler oci_catalog = {.finish = catalog_finish};

/* Appends s as a JSON string. Tags and repository names need no escaping when they follow the
 * OCI grammars (no '"', '\\', control or non-ASCII character), so the common case is a copy;
 * anything else (an ECR tag may hold more) is encoded by jansson, and a string jansson refuses
 * (not UTF-8) is left out, as json_array_append_new used to leave it. One jansson value per
 * name cost a tags/list of 5,000 a third of its time in malloc and free
 * (docs/performance.md). *out_added 1 when it appended. */
static int append_json_string(struct berth_buf *b, const char *s, int *out_added)
{
    size_t len = strlen(s), i = 0;
    while (i < len && (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f && s[i] != '"' &&
           s[i] != '\\')
        i++;
    *out_added = 0;
    if (i == len) {
        int rc = berth_buf_append(b, "\"", 1);
        if (rc == 0)
            rc = berth_buf_append(b, s, len);
        if (rc == 0)
            rc = berth_buf_append(b, "\"", 1);
        *out_added = rc == 0;
        return rc;
    }
    json_t *j = json_stringn(s, len);
    if (!j)
        return 0;
    char *enc = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    if (!enc)
        return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
    int rc = berth_buf_append(b, enc, strlen(enc));
    free(enc);
    *out_added = rc == 0;
    return rc;
}

void oci_respond_list(struct berth_req *req, const char *name, const char *key, char *const *items,
                      size_t n)
{
    struct berth_buf b;
    int added = 0, rc;
    /* Bounded by the page size times the longest name, escaped. */
    berth_buf_init(&b, (size_t)64 << 20);
    rc = berth_buf_append(&b, "{", 1);
    if (rc == 0 && name) {
        if ((rc = berth_buf_append(&b, "\"name\":", 7)) == 0 &&
            (rc = append_json_string(&b, name, &added)) == 0)
            rc = berth_buf_append(&b, ",", 1);
    }
    if (rc == 0 && (rc = append_json_string(&b, key, &added)) == 0)
        rc = berth_buf_append(&b, ":[", 2);
    int first = 1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t mark = b.len;
        if (!first && (rc = berth_buf_append(&b, ",", 1)) < 0)
            break;
        if ((rc = append_json_string(&b, items[i], &added)) == 0 && !added) {
            b.len = mark; /* left out: take the comma back */
            b.data[mark] = '\0';
        }
        first = first && !added;
    }
    if (rc == 0)
        rc = berth_buf_append(&b, "]}", 2);
    if (rc < 0) {
        berth_buf_dispose(&b);
        oci_error(req, rc);
        return;
    }
    size_t len;
    char *body = berth_buf_detach(&b, &len);
    berth_req_respond_owned(req, 200, "application/json", body, len);
}
