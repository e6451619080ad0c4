#include "core/log.h"

#include <jansson.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum berth_log_level min_level = BERTH_LOG_INFO;
static enum berth_log_format out_format = BERTH_LOG_TEXT;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void berth_log_setup(enum berth_log_level level, enum berth_log_format format)
{
    min_level = level;
    out_format = format;
}

int berth_log_enabled(enum berth_log_level level)
{
    return level >= min_level;
}

static void timestamp(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* One write per line, so concurrent threads never interleave within a line. */
static void emit(const char *line, size_t len)
{
    fwrite(line, 1, len, stderr);
    fflush(stderr);
}

/* Copies s into out (at most cap-1 bytes), escaping control bytes, backslash and non-ASCII as
 * \xNN so a request cannot forge or split log lines; marks truncation with "...". */
static void sanitize(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        int plain = c >= 0x20 && c < 0x7f && c != '\\';
        size_t need = plain ? 1 : 4;
        if (o + need + 4 >= cap) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

/* Emits a JSON object as one line; jansson escapes every string, and the line is allocated to
 * size, so nothing is ever cut. */
static void emit_json(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    if (s) {
        size_t n = strlen(s);
        s[n] = '\n'; /* the terminating NUL becomes the newline: write n + 1 bytes */
        emit(s, n + 1);
        free(s);
    }
    json_decref(o);
}

void berth_log(enum berth_log_level level, const char *request_id, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char msg[1024], ts[40], line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    timestamp(ts, sizeof(ts));
    if (out_format == BERTH_LOG_JSON) {
        json_t *o = json_pack("{s:s,s:s,s:s}", "time", ts, "level", level_names[level], "msg", msg);
        if (o && request_id)
            json_object_set_new(o, "request_id", json_string(request_id));
        emit_json(o);
        return;
    }
    char clean[1100];
    sanitize(clean, sizeof(clean), msg);
    int n = snprintf(line, sizeof(line), "%s %-5s %s%s%s%s\n", ts, level_names[level],
                     request_id ? "[" : "", request_id ? request_id : "",
                     request_id ? "] " : "", clean);
    emit(line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void berth_log_access(const struct berth_access *a)
{
    if (BERTH_LOG_INFO < min_level)
        return;
    char ts[40];
    timestamp(ts, sizeof(ts));
    if (out_format == BERTH_LOG_JSON) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:f}", "time", ts, "level",
                              "info", "msg", "access", "request_id", a->request_id, "method",
                              a->method, "path", a->path, "status", a->status, "bytes_in",
                              (json_int_t)a->bytes_in, "bytes_out", (json_int_t)a->bytes_out,
                              "duration_ms", a->duration_ms);
        if (o && a->remote)
            json_object_set_new(o, "remote", json_string(a->remote));
        emit_json(o);
        return;
    }
    char method[32], path[1024], line[1400];
    sanitize(method, sizeof(method), a->method);
    sanitize(path, sizeof(path), a->path);
    int n = snprintf(line, sizeof(line), "%s info  [%s] %s %s %s %d in=%llu out=%llu %.3fms\n",
                     ts, a->request_id, a->remote ? a->remote : "-", method, path, a->status,
                     (unsigned long long)a->bytes_in, (unsigned long long)a->bytes_out,
                     a->duration_ms);
    emit(line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

int berth_log_level_parse(const char *s, enum berth_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum berth_log_level)i;
            return 0;
        }
    }
    return -1;
}

int berth_log_format_parse(const char *s, enum berth_log_format *out)
{
    if (strcmp(s, "text") == 0)
        *out = BERTH_LOG_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = BERTH_LOG_JSON;
    else
        return -1;
    return 0;
}
