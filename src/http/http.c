#include "http/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"

/* ---- route matching ---- */

struct seg {
    const char *p;
    size_t n;
};

/* Splits s on '/' (keeping empty segments) into v[0..cap); returns the count, or 0 if it does
 * not fit. Segments point into s: nothing is allocated. */
static size_t split(const char *s, struct seg *v, size_t cap)
{
    size_t i = 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == '/' || *p == '\0') {
            if (i == cap)
                return 0;
            v[i].p = start;
            v[i].n = (size_t)(p - start);
            i++;
            start = p + 1;
            if (*p == '\0')
                return i;
        }
    }
}

static size_t count_segments(const char *s)
{
    size_t n = 1;
    for (; *s; s++)
        n += *s == '/';
    return n;
}

static int is_param(const struct seg *s)
{
    return s->n >= 2 && s->p[0] == '<' && s->p[s->n - 1] == '>';
}

static int is_name_param(const struct seg *s)
{
    return s->n == 6 && memcmp(s->p, "<name>", 6) == 0;
}

static int seg_match(const struct seg *pat, const struct seg *path, struct seg *caps, int *nc)
{
    if (is_param(pat)) {
        if (path->n == 0 || *nc >= BERTH_MAX_PARAMS)
            return 0;
        caps[(*nc)++] = *path;
        return 1;
    }
    return pat->n == path->n && memcmp(pat->p, path->p, pat->n) == 0;
}

/* Matches split segments; captures are (pointer, length) into the path, in pattern order. */
static int match_segs(const struct seg *pat, size_t np, const struct seg *pth, size_t nq,
                      struct seg caps[BERTH_MAX_PARAMS], int *ncaps)
{
    int n = 0;
    size_t name_at = np;
    for (size_t i = 0; i < np; i++)
        if (is_name_param(&pat[i]))
            name_at = i;
    if (name_at == np) {
        if (np != nq)
            return 0;
        for (size_t i = 0; i < np; i++)
            if (!seg_match(&pat[i], &pth[i], caps, &n))
                return 0;
        *ncaps = n;
        return 1;
    }
    size_t after = np - name_at - 1;
    if (nq < name_at + 1 + after || name_at >= BERTH_MAX_PARAMS)
        return 0;
    for (size_t i = 0; i < name_at; i++)
        if (!seg_match(&pat[i], &pth[i], caps, &n))
            return 0;
    /* <name> spans path segments [name_at, nq - after) */
    int name_idx = n++;
    caps[name_idx].p = pth[name_at].p;
    caps[name_idx].n = (size_t)(pth[nq - after - 1].p + pth[nq - after - 1].n - pth[name_at].p);
    for (size_t i = 0; i < after; i++)
        if (!seg_match(&pat[name_at + 1 + i], &pth[nq - after + i], caps, &n))
            return 0;
    *ncaps = n;
    return 1;
}

static int dup_captures(const struct seg *caps, int n, char **params)
{
    for (int i = 0; i < n; i++) {
        if (!(params[i] = strndup(caps[i].p, caps[i].n))) {
            while (i-- > 0)
                free(params[i]);
            return 0;
        }
    }
    return 1;
}

/* Route patterns are short: this bounds their segments, not the path's. */
#define PATTERN_SEGS_MAX 16

int berth_route_match(const char *pattern, const char *path, char **params, int *nparams)
{
    struct seg pat[PATTERN_SEGS_MAX], caps[BERTH_MAX_PARAMS];
    size_t nq = count_segments(path);
    struct seg *pth = malloc(nq * sizeof(*pth));
    size_t np = split(pattern, pat, PATTERN_SEGS_MAX);
    int n = 0, ok = pth && np && match_segs(pat, np, pth, split(path, pth, nq), caps, &n) &&
                    dup_captures(caps, n, params);
    free(pth);
    *nparams = ok ? n : 0;
    return ok;
}

/* ---- requests ---- */

static void req_free(struct berth_req *req)
{
    for (int i = 0; i < req->nparam; i++)
        free(req->param[i]);
    for (int i = 0; i < req->nhdr; i++) {
        free(req->hdr_name[i]);
        free(req->hdr_value[i]);
    }
    if (req->resp)
        MHD_destroy_response(req->resp);
    if (req->ident && req->ident_free)
        req->ident_free(req->ident);
    berth_buf_dispose(&req->body);
    free(req);
}

const char *berth_req_header(struct berth_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *berth_req_query(struct berth_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct each_header {
    int (*cb)(void *ctx, const char *name, const char *value);
    void *ctx;
};

static enum MHD_Result each_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct each_header *e = cls;
    return e->cb(e->ctx, key, value ? value : "") == 0 ? MHD_YES : MHD_NO;
}

void berth_req_each_header(struct berth_req *req,
                           int (*cb)(void *ctx, const char *name, const char *value), void *ctx)
{
    struct each_header e = {cb, ctx};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, each_header, &e);
}

void berth_req_remote(struct berth_req *req, char *out, size_t len)
{
    snprintf(out, len, "-");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)ci->client_addr)->sin_addr, out,
                  (socklen_t)len);
    else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)ci->client_addr)->sin6_addr, out,
                  (socklen_t)len);
}

int berth_req_is_head(const struct berth_req *req)
{
    return strcmp(req->method, "HEAD") == 0;
}

void berth_req_add_header(struct berth_req *req, const char *name, const char *value)
{
    if (req->nhdr >= BERTH_MAX_RESP_HEADERS)
        return;
    req->hdr_name[req->nhdr] = strdup(name);
    req->hdr_value[req->nhdr] = strdup(value);
    req->nhdr++;
}

static void set_response(struct berth_req *req, int status, const char *content_type,
                         struct MHD_Response *r, uint64_t len)
{
    if (!r) {
        berth_log(BERTH_LOG_ERROR, req->id, "cannot create response");
        return;
    }
    if (req->resp)
        MHD_destroy_response(req->resp);
    req->resp = r;
    req->status = status;
    req->bytes_out = berth_req_is_head(req) ? 0 : len;
    if (content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (int i = 0; i < req->nhdr; i++)
        MHD_add_response_header(r, req->hdr_name[i], req->hdr_value[i]);
}

void berth_req_respond(struct berth_req *req, int status, const char *content_type,
                       const void *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    set_response(req, status, content_type, r, len);
}

void berth_req_respond_owned(struct berth_req *req, int status, const char *content_type,
                             char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r)
        free(body);
    set_response(req, status, content_type, r, len);
}

void berth_req_respond_fd(struct berth_req *req, int status, const char *content_type, int fd,
                          uint64_t offset, uint64_t len)
{
    /* Small bodies go out from memory: with a file response libmicrohttpd sends the headers
     * and then sendfile()s the body, two calls where a buffer needs one, and a 1 KiB blob GET
     * ran at 0.45x nginx while a HEAD of it ran at 0.77x (docs/performance.md). A short read
     * (the file changed under us) leaves it to the sendfile path and its error handling. */
    if (len <= BERTH_FD_INLINE_MAX) {
        char buf[BERTH_FD_INLINE_MAX];
        ssize_t n = pread(fd, buf, (size_t)len, (off_t)offset);
        if (n == (ssize_t)len) {
            close(fd);
            berth_req_respond(req, status, content_type, buf, (size_t)len);
            return;
        }
    }
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(len, fd, offset);
    if (!r)
        close(fd);
    set_response(req, status, content_type, r, len);
}

static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    return MHD_CONTENT_READER_END_OF_STREAM;
}

void berth_req_respond_length(struct berth_req *req, int status, const char *content_type,
                              uint64_t len)
{
    /* libmicrohttpd sets Content-Length from the size and never calls the reader for HEAD. */
    struct MHD_Response *r = MHD_create_response_from_callback(len, 4096, no_body, NULL, NULL);
    set_response(req, status, content_type, r, len);
}

/* ---- the libmicrohttpd glue ---- */

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    size_t *total = cls;
    *total += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
    return MHD_YES;
}

/* libmicrohttpd bounds headers only by the connection's memory, which is sized for receive
 * buffering; the operator's header limit is checked here. */
static size_t header_bytes(struct MHD_Connection *conn, const char *method, const char *url)
{
    size_t total = strlen(method) + strlen(url) + 12;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header_size, &total);
    return total;
}

static const struct berth_route *route_find(struct berth_http *h, struct berth_req *req,
                                            const struct berth_route_table **out_table)
{
    int path_known = 0;
    char allow[64] = "";
    const struct berth_route *found = NULL;
    /* The path is split once; each pattern is split on the stack and matched without
     * allocating. Only the winning route's parameters are copied. */
    size_t nq = count_segments(req->path);
    struct seg *pth = malloc(nq * sizeof(*pth));
    if (!pth)
        goto out;
    split(req->path, pth, nq);
    for (size_t t = 0; t < h->opt.ntables && !found; t++) {
        const struct berth_route_table *tab = &h->opt.tables[t];
        for (size_t i = 0; i < tab->nroutes; i++) {
            const struct berth_route *rt = &tab->routes[i];
            struct seg pat[PATTERN_SEGS_MAX], caps[BERTH_MAX_PARAMS];
            size_t np = split(rt->pattern, pat, PATTERN_SEGS_MAX);
            int n = 0;
            if (!np || !match_segs(pat, np, pth, nq, caps, &n))
                continue;
            if (strcmp(rt->method, req->method) != 0) {
                path_known = 1;
                if (!strstr(allow, rt->method) &&
                    strlen(allow) + strlen(rt->method) + 3 < sizeof(allow))
                    snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
                             allow[0] ? ", " : "", rt->method);
                continue;
            }
            if (dup_captures(caps, n, req->param)) {
                req->nparam = n;
                found = rt;
                *out_table = tab;
            }
            break;
        }
    }
out:
    free(pth);
    if (found)
        return found;
    req->route_miss = path_known ? 405 : 404;
    if (path_known) /* RFC 9110: a 405 lists the methods the resource supports */
        berth_req_add_header(req, "Allow", allow);
    return NULL;
}

static enum MHD_Result queue(struct berth_req *req)
{
    if (!req->resp) {
        /* A handler that failed to build its response (out of memory): still answer. */
        static const char body[] =
            "{\"errors\":[{\"code\":\"UNSUPPORTED\",\"message\":\"internal error\"}]}";
        berth_req_respond(req, 500, "application/json", body, sizeof(body) - 1);
        req->status = 500;
    }
    return MHD_queue_response(req->conn, (unsigned)req->status, req->resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct berth_http *h = cls;
    struct berth_req *req = *con_cls;

    if (!req) {
        req = calloc(1, sizeof(*req));
        if (!req)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &req->t0);
        req->conn = conn;
        req->app = h->opt.fallback_app;
        req->method = method;
        req->path = url;
        snprintf(req->id, sizeof(req->id), "%016lx", atomic_fetch_add(&h->next_id, 1));
        req->body_max = BERTH_SMALL_BODY_MAX;
        *con_cls = req;
        atomic_fetch_add(&h->in_flight, 1);
        if (h->opt.always_header_name)
            berth_req_add_header(req, h->opt.always_header_name, h->opt.always_header_value);
        const struct berth_route *rt = NULL;
        const struct berth_route_table *tab = NULL;
        if (h->opt.header_max && header_bytes(conn, method, url) > h->opt.header_max)
            req->route_miss = 431;
        else
            rt = route_find(h, req, &tab);
        req->h = rt ? rt->handler : h->opt.fallback;
        if (rt)
            req->app = tab->app;
        berth_buf_init(&req->body, req->body_max);
        if (rt && tab->gate && tab->gate(req, rt) < 0) {
            /* refused before the handler saw anything: nothing of it runs, not even cleanup */
            req->h = h->opt.fallback;
            req->started = 1;
            return queue(req);
        }
        if (req->h->start)
            req->h->start(req);
        req->body.max = req->body_max;
        req->started = 1;
        if (req->resp)
            return queue(req); /* answered from the headers: the body is never read */
        return MHD_YES;
    }

    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        req->bytes_in += n;
        *upload_data_size = 0;
        if (req->body_stopped || req->body_too_big)
            return MHD_YES;
        switch (req->h->body) {
        case BERTH_BODY_STREAM:
            if (req->h->data(req, upload_data, n) < 0)
                req->body_stopped = 1;
            break;
        case BERTH_BODY_BUFFER:
            if (berth_buf_append(&req->body, upload_data, n) < 0) {
                req->body_too_big = 1;
                berth_buf_dispose(&req->body);
            }
            break;
        case BERTH_BODY_NONE:
            break;
        }
        return MHD_YES;
    }

    if (!req->resp && req->h->finish)
        req->h->finish(req);
    return queue(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct berth_http *h = cls;
    struct berth_req *req = *con_cls;
    if (!req)
        return;
    int ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    if (req->h && req->h->cleanup)
        req->h->cleanup(req, ok);
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    char remote[64];
    berth_req_remote(req, remote, sizeof(remote));
    struct berth_access a = {
        .request_id = req->id,
        .method = req->method,
        .path = req->path, /* without the query string, which may carry secrets */
        .remote = remote,
        .status = ok ? req->status : 499,
        .bytes_in = req->bytes_in,
        .bytes_out = req->bytes_out,
        .duration_ms = (double)(t1.tv_sec - req->t0.tv_sec) * 1e3 +
                       (double)(t1.tv_nsec - req->t0.tv_nsec) / 1e6,
    };
    berth_log_access(&a);
    req_free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&h->in_flight, 1);
}

int berth_http_parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof(host))
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535)
        return -1;
    memset(ss, 0, sizeof(*ss));
    char *h6 = host;
    if (host[0] == '[') {
        size_t hl = strlen(host);
        if (hl < 3 || host[hl - 1] != ']')
            return -1;
        host[hl - 1] = '\0';
        h6 = host + 1;
    }
    if (host[0] == '\0') /* ":5000", as Go servers spell "every interface" */
        snprintf(host, sizeof(host), "0.0.0.0");
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &v4->sin_addr) ==
        1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, h6, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*v6);
        return 0;
    }
    return -1;
}

int berth_http_start(struct berth_http *h, const struct berth_http_options *opt)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    h->opt = *opt;
    atomic_init(&h->in_flight, 0);
    atomic_init(&h->next_id, ((unsigned long)time(NULL) & 0xffffffUL) << 32);
    if (berth_http_parse_listen(opt->listen, &ss, &sl) < 0)
        return berth_err_set(BERTH_EINVALID, BERTH_WHAT_NONE,
                             "invalid listen address %s (want HOST:PORT)", opt->listen);
    /* poll(), not epoll: with libmicrohttpd 0.9.75's epoll mode a client that hangs up in the
     * middle of a body is not noticed until the idle timeout, which keeps its upload session
     * locked and its connection slot taken (t_bad_hangups, t_bad_upload_truncated). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
    /* The pool holds the headers too: never smaller than the header limit plus room to read. */
    size_t conn_mem = opt->conn_mem ? opt->conn_mem : (size_t)BERTH_CONN_MEM_DEFAULT;
    if (conn_mem < opt->header_max + 16384)
        conn_mem = opt->header_max + 16384;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, opt->threads ? opt->threads : 4, MHD_OPTION_CONNECTION_LIMIT,
        opt->max_connections ? opt->max_connections : 1024, MHD_OPTION_CONNECTION_TIMEOUT,
        opt->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, conn_mem, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_END);
    if (!h->d)
        return berth_err_set(BERTH_EIO, BERTH_WHAT_NONE, "cannot listen on %s", opt->listen);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : 0;
    return 0;
}

void berth_http_quiesce(struct berth_http *h)
{
    if (!h->d)
        return;
    MHD_socket s = MHD_quiesce_daemon(h->d);
    if (s != MHD_INVALID_SOCKET)
        close(s);
}

void berth_http_stop(struct berth_http *h)
{
    if (h->d)
        MHD_stop_daemon(h->d);
    h->d = NULL;
}
