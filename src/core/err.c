#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char detail[512];
static _Thread_local char subject[256];
static _Thread_local enum berth_what what_;

int berth_err_set(int code, enum berth_what what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    what_ = what;
    subject[0] = '\0';
    return code;
}

const char *berth_err_detail(void)
{
    return detail;
}

enum berth_what berth_err_what(void)
{
    return what_;
}

void berth_err_set_subject(const char *s)
{
    snprintf(subject, sizeof(subject), "%s", s ? s : "");
}

const char *berth_err_subject(void)
{
    return subject;
}

void berth_err_clear(void)
{
    detail[0] = '\0';
    subject[0] = '\0';
    what_ = BERTH_WHAT_NONE;
}

const char *berth_err_name(int code)
{
    switch (code) {
    case BERTH_OK: return "ok";
    case BERTH_ENOTFOUND: return "not found";
    case BERTH_EEXISTS: return "exists";
    case BERTH_EINVALID: return "invalid";
    case BERTH_EDENIED: return "denied";
    case BERTH_ETOOBIG: return "too big";
    case BERTH_ECONFLICT: return "conflict";
    case BERTH_EIO: return "i/o error";
    case BERTH_EUNAVAILABLE: return "unavailable";
    case BERTH_ENOMEM: return "out of memory";
    case BERTH_EUNSUPPORTED: return "unsupported";
    case BERTH_ERANGE: return "range not satisfiable";
    }
    return "unknown error";
}
