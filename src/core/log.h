/*
 * log — leveled logging to stderr, as text or one JSON object per line.
 *
 * The level and format are set once at start-up (from the config) before any thread runs and
 * never change afterwards, so reading them needs no lock. Formatting is skipped below the
 * level. Callers never pass credentials or tokens; the access log records the path without
 * its query string for the same reason.
 */
#ifndef BERTH_CORE_LOG_H
#define BERTH_CORE_LOG_H

#include <stdint.h>

enum berth_log_level { BERTH_LOG_DEBUG, BERTH_LOG_INFO, BERTH_LOG_WARN, BERTH_LOG_ERROR };
enum berth_log_format { BERTH_LOG_TEXT, BERTH_LOG_JSON };

void berth_log_setup(enum berth_log_level level, enum berth_log_format format);
int berth_log_enabled(enum berth_log_level level);
void berth_log(enum berth_log_level level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One access-log line per finished request. */
struct berth_access {
    const char *request_id;
    const char *method;
    const char *path;
    const char *remote;
    int status;
    uint64_t bytes_in;
    uint64_t bytes_out;
    double duration_ms;
};
void berth_log_access(const struct berth_access *a);

int berth_log_level_parse(const char *s, enum berth_log_level *out);
int berth_log_format_parse(const char *s, enum berth_log_format *out);

#endif
