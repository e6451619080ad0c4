/*
 * oci — the OCI Distribution API v1.1 handlers. They parse the wire (path parameters, query,
 * headers), call registry/, and format the wire (status, headers, JSON). No registry semantics
 * live here. routes.c is the map: one line per endpoint.
 */
#ifndef BERTH_OCI_OCI_H
#define BERTH_OCI_OCI_H

#include <stddef.h>

#include "auth/auth.h"
#include "core/digest.h"
#include "core/err.h"
#include "http/http.h"
#include "registry/registry.h"

/* What the OCI handlers need from the server. */
struct berth_oci_ctx {
    struct berth_registry *registry;
    struct berth_auth *auth;
    size_t manifest_max;
    char realm[256]; /* for WWW-Authenticate */
};

extern const struct berth_route berth_oci_routes[];
extern const size_t berth_oci_nroutes;
extern const struct berth_handler berth_oci_fallback;
/* The route table's gate: authentication, the addressed account, authorization of the route's
 * action (auth.c). */
int berth_oci_gate(struct berth_req *req, const struct berth_route *rt);

/* ---- shared by the handler files ---- */
struct berth_oci_ctx *oci_ctx(struct berth_req *req);
#define OCI_ACCOUNT(req) ((req)->scope)
#define OCI_NAME(req) ((req)->param[0])
#define OCI_ARG(req) ((req)->param[1])

/* Authorizes one more action for the caller (e.g. reading the source of a mount). */
int oci_authorize(struct berth_req *req, const char *action, const char *repo);

/* An error kept across libmicrohttpd callbacks (the thread-local detail is per call). */
struct oci_saved_err {
    int rc;
    enum berth_what what;
    char detail[512];
    char subject[BERTH_DIGEST_BUF];
};
void oci_err_save(struct oci_saved_err *e, int rc);
void oci_err_restore(const struct oci_saved_err *e);

/* Responds with the OCI error for rc and the current thread's err detail. */
void oci_error(struct berth_req *req, int rc);
/* Responds with a specific OCI error code. */
void oci_error_code(struct berth_req *req, int status, const char *code, const char *message);
/* Parses ?n= (absent: default). Returns -1 after responding with an error. */
int oci_page_size(struct berth_req *req, int *out_n);
/* Adds `Link: <path?last=..&n=..>; rel="next"` */
void oci_link_next(struct berth_req *req, const char *path, const char *last, int n);
/* Answers 200 with {"name":<name>,"<key>":[items...]} (no "name" when name is NULL): the body
 * of tags/list and of the catalog. */
void oci_respond_list(struct berth_req *req, const char *name, const char *key, char *const *items,
                      size_t n);

#endif
