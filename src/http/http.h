/*
 * http — the libmicrohttpd daemon, route matching, bounded bodies and responses.
 *
 * A route is (method, pattern, handler). Patterns are literal text plus `<name>` (a repository
 * name: one or more path segments) and single-segment parameters such as `<ref>` or `<digest>`;
 * `<name>` is matched from the end of the path so names may contain any segment. A handler
 * has up to four callbacks:
 *   start    headers are in; may respond at once (the body is then never read)
 *   data     STREAM routes: each piece of the body as it arrives
 *   finish   the body is complete: must respond
 *   cleanup  the request is over; ok = 0 when the client went away before the end
 * BUFFER routes collect the body (at most req->body_max bytes) before finish.
 *
 * The request (struct berth_req) owns everything allocated for it and is freed when
 * libmicrohttpd reports the request complete.
 */
#ifndef BERTH_HTTP_HTTP_H
#define BERTH_HTTP_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "core/buf.h"

struct MHD_Connection;
struct MHD_Daemon;
struct MHD_Response;
struct berth_req;

enum berth_body_mode { BERTH_BODY_NONE, BERTH_BODY_BUFFER, BERTH_BODY_STREAM };

struct berth_handler {
    enum berth_body_mode body;
    void (*start)(struct berth_req *req);
    /* Returns < 0 to stop: the rest of the body is discarded and finish still runs. */
    int (*data)(struct berth_req *req, const char *data, size_t len);
    void (*finish)(struct berth_req *req);
    void (*cleanup)(struct berth_req *req, int ok);
};

struct berth_route {
    const char *method;
    const char *pattern;
    const struct berth_handler *handler;
    const char *action; /* what the route does, for the table's gate (e.g. "ecr:PutImage") */
};

/* One API's routes. The gate, if set, runs after a route matched and before its handler
 * starts: it authenticates and authorizes (rt->action), and returns 0 to go on or -1 after
 * responding. */
struct berth_route_table {
    const struct berth_route *routes;
    size_t nroutes;
    void *app; /* given to the handlers as req->app */
    int (*gate)(struct berth_req *req, const struct berth_route *rt);
};

#define BERTH_MAX_PARAMS 3
#define BERTH_MAX_RESP_HEADERS 12

struct berth_req {
    struct MHD_Connection *conn;
    void *app; /* the server, for handlers */
    const char *method;
    const char *path;
    char id[20];
    /* captured pattern parameters, in pattern order: "<name>" then e.g. "<ref>" */
    char *param[BERTH_MAX_PARAMS];
    int nparam;
    int route_miss; /* 404 or 405 when no route matched (the fallback handler runs); 431 when
                     * the headers are over the limit */
    const struct berth_handler *h;
    void *state; /* handler-owned; released in cleanup */
    /* Set by the gate: who is calling (freed with ident_free when the request ends) and the
     * account whose registry the request addresses. */
    void *ident;
    void (*ident_free)(void *);
    char scope[16];

    struct berth_buf body; /* BUFFER routes */
    size_t body_max;
    int body_too_big;
    int body_stopped; /* data() returned < 0: discarding the rest */
    int started;

    struct MHD_Response *resp;
    int status;
    char *hdr_name[BERTH_MAX_RESP_HEADERS];
    char *hdr_value[BERTH_MAX_RESP_HEADERS];
    int nhdr;
    uint64_t bytes_in;
    uint64_t bytes_out;
    struct timespec t0;
};

struct berth_http_options {
    const char *listen; /* host:port */
    const struct berth_route_table *tables;
    size_t ntables;
    const struct berth_handler *fallback; /* no route matched: req->route_miss says why */
    void *fallback_app;
    unsigned threads;
    unsigned max_connections;
    unsigned timeout_s;
    size_t header_max; /* request line + headers; beyond it 431 */
    size_t conn_mem;   /* libmicrohttpd's per-connection pool */
    /* header added to every response */
    const char *always_header_name;
    const char *always_header_value;
};

struct berth_http {
    struct MHD_Daemon *d;
    struct berth_http_options opt;
    atomic_int in_flight;
    atomic_ulong next_id;
    uint16_t port; /* actually bound (listen may say :0) */
};

int berth_http_start(struct berth_http *h, const struct berth_http_options *opt);
/* Stops accepting new connections; in-flight requests continue. */
void berth_http_quiesce(struct berth_http *h);
void berth_http_stop(struct berth_http *h);

/* ---- for handlers ---- */
const char *berth_req_header(struct berth_req *req, const char *name);
const char *berth_req_query(struct berth_req *req, const char *name);
int berth_req_is_head(const struct berth_req *req);
/* Calls cb for every request header in arrival order (stops when cb returns non-zero). */
void berth_req_each_header(struct berth_req *req,
                           int (*cb)(void *ctx, const char *name, const char *value), void *ctx);
/* The client's IP address as text ("-" when unknown). */
void berth_req_remote(struct berth_req *req, char *out, size_t len);
void berth_req_add_header(struct berth_req *req, const char *name, const char *value);
/* Responds with a copy of body (may be NULL with len 0). */
void berth_req_respond(struct berth_req *req, int status, const char *content_type,
                       const void *body, size_t len);
/* Responds with body, taking ownership of the malloc'd bytes. */
void berth_req_respond_owned(struct berth_req *req, int status, const char *content_type,
                             char *body, size_t len);
/* Serves len bytes of fd from offset with sendfile; takes ownership of fd. */
void berth_req_respond_fd(struct berth_req *req, int status, const char *content_type, int fd,
                          uint64_t offset, uint64_t len);
/* HEAD: announces a Content-Length of len without a body. */
void berth_req_respond_length(struct berth_req *req, int status, const char *content_type,
                              uint64_t len);

/* Parses HOST:PORT ([v6]:PORT, "localhost" allowed) into a socket address: 0 or -1. */
int berth_http_parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len);

/* Matches path against pattern; on success fills params (malloc'd) and returns 1. Exposed for
 * unit tests. */
int berth_route_match(const char *pattern, const char *path, char **params, int *nparams);

#endif
