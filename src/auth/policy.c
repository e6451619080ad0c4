/*
 * IAM policy parsing, evaluation and the authorization decision (see policy.h).
 *
 * A parsed policy keeps the jansson document alive and points into it: every string a
 * statement refers to is owned by p->doc, and the statement arrays are owned by the policy.
 * Evaluation allocates nothing, so it cannot fail half-way; policy variables are substituted
 * while matching instead of into a buffer whose size the request would choose.
 */
#include "auth/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/err.h"
#include "core/limits.h"

#define ACCOUNT_LEN 12

/* ---- the parsed form ------------------------------------------------------------------- */

/* A string or list of strings from the document (Action, Resource, condition values). */
struct strs {
    const char **v;
    size_t n;
};

enum pkind {
    P_ANY,     /* "*" or {"AWS": "*"}: everyone, anonymous callers included */
    P_ACCOUNT, /* "123456789012" or arn:aws:iam::123456789012:root */
    P_ARN,     /* one IAM user, role or session */
    P_SERVICE, /* {"Service": ...}: accepted, never a Berth user */
};

struct princ {
    enum pkind kind;
    const char *s; /* P_ACCOUNT: the 12 digits (not NUL-terminated inside a root ARN); P_ARN */
};

enum okind { K_STRING, K_STRING_IC, K_STRING_LIKE, K_NUMERIC, K_DATE, K_BOOL, K_IP, K_ARN, K_NULL };
enum ocmp { C_EQ, C_LT, C_LE, C_GT, C_GE };
enum oset { SET_NONE, SET_ANY, SET_ALL };

struct op {
    const char *name;
    enum okind kind;
    enum ocmp cmp;
    int negated; /* "not" operators: several values combine with NOR, an absent key holds */
};

/* IMPLEMENTATION-OF IAM "Condition operators". BinaryEquals is left out: no ECR condition key
 * carries binary data, and refusing it is better than evaluating it wrongly. */
static const struct op ops[] = {
    {"StringEquals", K_STRING, C_EQ, 0},
    {"StringNotEquals", K_STRING, C_EQ, 1},
    {"StringEqualsIgnoreCase", K_STRING_IC, C_EQ, 0},
    {"StringNotEqualsIgnoreCase", K_STRING_IC, C_EQ, 1},
    {"StringLike", K_STRING_LIKE, C_EQ, 0},
    {"StringNotLike", K_STRING_LIKE, C_EQ, 1},
    {"NumericEquals", K_NUMERIC, C_EQ, 0},
    {"NumericNotEquals", K_NUMERIC, C_EQ, 1},
    {"NumericLessThan", K_NUMERIC, C_LT, 0},
    {"NumericLessThanEquals", K_NUMERIC, C_LE, 0},
    {"NumericGreaterThan", K_NUMERIC, C_GT, 0},
    {"NumericGreaterThanEquals", K_NUMERIC, C_GE, 0},
    {"DateEquals", K_DATE, C_EQ, 0},
    {"DateNotEquals", K_DATE, C_EQ, 1},
    {"DateLessThan", K_DATE, C_LT, 0},
    {"DateLessThanEquals", K_DATE, C_LE, 0},
    {"DateGreaterThan", K_DATE, C_GT, 0},
    {"DateGreaterThanEquals", K_DATE, C_GE, 0},
    {"Bool", K_BOOL, C_EQ, 0},
    {"IpAddress", K_IP, C_EQ, 0},
    {"NotIpAddress", K_IP, C_EQ, 1},
    {"ArnEquals", K_ARN, C_EQ, 0},
    {"ArnLike", K_ARN, C_EQ, 0},
    {"ArnNotEquals", K_ARN, C_EQ, 1},
    {"ArnNotLike", K_ARN, C_EQ, 1},
    {"Null", K_NULL, C_EQ, 0},
};

struct cond {
    const struct op *op;
    enum oset set;
    int if_exists;
    const char *key;
    struct strs vals;
};

struct stmt {
    int deny;
    int not_action, not_resource, not_principal;
    int has_resource; /* absent in a resource policy: the resource the policy is attached to */
    struct strs actions, resources;
    struct princ *princ;
    size_t nprinc;
    struct cond *conds;
    size_t nconds;
    const char *sid;
};

struct berth_policy {
    json_t *doc; /* owns every string the statements point at */
    int resource_policy;
    int vars; /* Version 2012-10-17: ${...} is a policy variable, otherwise literal text */
    struct stmt *st;
    size_t nst;
};

/* ---- small helpers --------------------------------------------------------------------- */

#define bad(...) berth_err_set(BERTH_EINVALID, BERTH_WHAT_POLICY, __VA_ARGS__)

static int nomem(void)
{
    return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
}

static int is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return 1;
}

static int is_account(const char *s)
{
    return s && strlen(s) == ACCOUNT_LEN && is_digits(s, ACCOUNT_LEN);
}

/* Error messages reach the client and the log, so policy text is echoed only when it is short
 * printable ASCII. */
static const char *shown(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return "(name not shown)";
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e)
            return "(name not shown)";
    }
    return s;
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static int is_true_false(const char *s)
{
    return strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0;
}

/* ---- values: numbers, dates, addresses --------------------------------------------------- */

static int parse_num(const char *s, double *out)
{
    /* strtod alone would also take "nan", "inf", hex and leading blanks. */
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
        return -1;
    errno = 0;
    char *end;
    double d = strtod(s, &end);
    if (*end || errno == ERANGE)
        return -1;
    *out = d;
    return 0;
}

static int take_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* IMPLEMENTATION-OF IAM "Date condition operators": "W3C implementations of the ISO 8601 date
 * formats" or epoch (UNIX) time. Seconds since the epoch, fraction kept. */
static int parse_date(const char *s, double *out)
{
    size_t n = strlen(s);
    if (n > 0 && n <= 12 && is_digits(s, n)) {
        *out = (double)strtoll(s, NULL, 10);
        return 0;
    }
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    double frac = 0;
    long off = 0;
    if (take_digits(&p, 4, &y) < 0 || *p != '-')
        return -1;
    p++;
    if (take_digits(&p, 2, &mo) < 0 || *p != '-')
        return -1;
    p++;
    if (take_digits(&p, 2, &d) < 0)
        return -1;
    if (*p == 'T' || *p == 't') {
        p++;
        if (take_digits(&p, 2, &h) < 0 || *p != ':')
            return -1;
        p++;
        if (take_digits(&p, 2, &mi) < 0)
            return -1;
        if (*p == ':') {
            p++;
            if (take_digits(&p, 2, &sec) < 0)
                return -1;
            if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                    return -1;
                for (double scale = 0.1; *p >= '0' && *p <= '9'; p++, scale /= 10)
                    frac += (*p - '0') * scale;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh, om;
            p++;
            if (take_digits(&p, 2, &oh) < 0)
                return -1;
            if (*p == ':')
                p++;
            if (take_digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
                return -1;
            off = sign * (oh * 3600L + om * 60L);
        }
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    *out = (double)timegm(&tm) + frac - (double)off;
    return 0;
}

struct addr {
    int v6;
    unsigned char b[16];
    unsigned bits;
};

/* An IPv4 or IPv6 address, with a /prefix when allow_prefix (policy values are CIDR ranges or
 * single addresses; request values are single addresses). */
static int parse_addr(const char *s, int allow_prefix, struct addr *out)
{
    char buf[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    memset(out, 0, sizeof(*out));
    unsigned max;
    if (inet_pton(AF_INET, buf, out->b) == 1) {
        max = 32;
    } else if (inet_pton(AF_INET6, buf, out->b) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        /* A v4 client seen through a dual-stack socket is still that v4 address. */
        if (!slash && memcmp(out->b, mapped, sizeof(mapped)) == 0) {
            memmove(out->b, out->b + 12, 4);
            memset(out->b + 4, 0, 12);
            max = 32;
        } else {
            out->v6 = 1;
            max = 128;
        }
    } else {
        return -1;
    }
    out->bits = max;
    if (slash) {
        const char *q = slash + 1;
        size_t qn = strlen(q);
        if (!allow_prefix || qn == 0 || qn > 3 || !is_digits(q, qn))
            return -1;
        unsigned long bits = strtoul(q, NULL, 10);
        if (bits > max)
            return -1;
        out->bits = (unsigned)bits;
    }
    return 0;
}

static int addr_in(const struct addr *net, const struct addr *ip)
{
    if (net->v6 != ip->v6)
        return 0;
    unsigned whole = net->bits / 8, rest = net->bits % 8;
    if (memcmp(net->b, ip->b, whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (net->b[whole] & mask) == (ip->b[whole] & mask);
}

/* ---- patterns: wildcards and policy variables ------------------------------------------- */

#define PAT_WILD 1u  /* '*' and '?' are wildcards */
#define PAT_ICASE 2u /* ASCII case-insensitive */
#define PAT_VARS 4u  /* ${...} is a policy variable */

struct pat {
    const char *s; /* the policy's text; not necessarily NUL-terminated at n */
    size_t n;
    unsigned flags;
    const struct berth_policy_request *req; /* where variables are looked up */
};

/* A place in a pattern: in its text, or inside the substituted value of a variable. */
struct ppos {
    size_t i;
    const char *v;
    size_t vn, vi;
};

/* IMPLEMENTATION-OF IAM "Variables and tags": ${key} is the request's value of key (key names
 * are case-insensitive); ${*}, ${?} and ${$} are the literal characters; ${key, 'text'} falls
 * back to text. A key that is absent or multivalued, with no default, cannot be resolved. */
static int var_resolve(const struct pat *p, size_t i, const char **val, size_t *vlen, size_t *end)
{
    const char *close = memchr(p->s + i + 2, '}', p->n - (i + 2));
    if (!close)
        return -1;
    *end = (size_t)(close - p->s) + 1;
    const char *b = p->s + i + 2;
    size_t bn = (size_t)(close - b);
    while (bn && *b == ' ')
        b++, bn--;
    while (bn && b[bn - 1] == ' ')
        bn--;
    if (bn == 1 && (*b == '*' || *b == '?' || *b == '$')) {
        *val = b; /* read as a literal: substituted text is never a wildcard */
        *vlen = 1;
        return 0;
    }
    const char *comma = memchr(b, ',', bn);
    size_t kn = comma ? (size_t)(comma - b) : bn;
    while (kn && b[kn - 1] == ' ')
        kn--;
    const char *dflt = NULL;
    size_t dn = 0;
    if (comma) {
        const char *d = comma + 1;
        size_t rem = bn - (size_t)(d - b);
        while (rem && *d == ' ')
            d++, rem--;
        if (rem < 2 || d[0] != '\'' || d[rem - 1] != '\'' || memchr(d + 1, '\'', rem - 2))
            return -1;
        dflt = d + 1;
        dn = rem - 2;
    }
    if (kn == 0 || memchr(b, ' ', kn))
        return -1;
    const char *found = NULL;
    size_t count = 0;
    for (size_t k = 0; p->req && k < p->req->nctx; k++) {
        const struct berth_policy_ctx *c = &p->req->ctx[k];
        if (c->key && c->value && strlen(c->key) == kn && strncasecmp(c->key, b, kn) == 0) {
            found = c->value;
            count++;
        }
    }
    if (count == 1) {
        *val = found;
        *vlen = strlen(found);
        return 0;
    }
    if (dflt) {
        *val = dflt;
        *vlen = dn;
        return 0;
    }
    return -1;
}

/* Moves past finished or empty substitutions and into the next variable. */
static int settle(const struct pat *p, struct ppos *pos)
{
    for (;;) {
        if (pos->v) {
            if (pos->vi < pos->vn)
                return 0;
            pos->v = NULL; /* i already points past the variable */
            continue;
        }
        if ((p->flags & PAT_VARS) && pos->i + 1 < p->n && p->s[pos->i] == '$' &&
            p->s[pos->i + 1] == '{') {
            size_t end;
            if (var_resolve(p, pos->i, &pos->v, &pos->vn, &end) < 0)
                return -1;
            pos->vi = 0;
            pos->i = end;
            continue;
        }
        return 0;
    }
}

enum { T_END, T_STAR, T_ONE, T_CHAR };

static int peek(const struct pat *p, const struct ppos *pos, unsigned char *c)
{
    if (pos->v) {
        *c = (unsigned char)pos->v[pos->vi];
        return T_CHAR;
    }
    if (pos->i >= p->n)
        return T_END;
    *c = (unsigned char)p->s[pos->i];
    if ((p->flags & PAT_WILD) && *c == '*')
        return T_STAR;
    if ((p->flags & PAT_WILD) && *c == '?')
        return T_ONE;
    return T_CHAR;
}

static int step(const struct pat *p, struct ppos *pos)
{
    if (pos->v)
        pos->vi++;
    else
        pos->i++;
    return settle(p, pos);
}

/* Whether every variable in the pattern resolves. Checked before matching so that an
 * unresolvable variable gives the same answer whether or not matching would have reached it. */
static int vars_resolve(const struct pat *p)
{
    if (!(p->flags & PAT_VARS) || !memchr(p->s, '$', p->n))
        return 0;
    struct ppos pos = {0};
    unsigned char c;
    if (settle(p, &pos) < 0)
        return -1;
    while (peek(p, &pos, &c) != T_END) {
        if (step(p, &pos) < 0)
            return -1;
    }
    return 0;
}

/* 1 if str[0..len) matches, 0 if not, -1 if a variable cannot be resolved. One backtrack point
 * (the last star) and no recursion: time O(pattern * len), stack constant. */
static int glob(const struct pat *p, const char *str, size_t len)
{
    struct ppos pos = {0}, star = {0};
    size_t si = 0, star_si = 0;
    int have_star = 0;
    unsigned char c = 0;

    if (vars_resolve(p) < 0 || settle(p, &pos) < 0)
        return -1;
    for (;;) {
        int t = peek(p, &pos, &c);
        if (t == T_STAR) {
            if (step(p, &pos) < 0)
                return -1;
            star = pos;
            star_si = si;
            have_star = 1;
            continue;
        }
        if (si < len &&
            (t == T_ONE ||
             (t == T_CHAR && ((p->flags & PAT_ICASE) ? lower(c) == lower((unsigned char)str[si])
                                                     : c == (unsigned char)str[si])))) {
            if (step(p, &pos) < 0)
                return -1;
            si++;
            continue;
        }
        if (t == T_END && si == len)
            return 1;
        if (!have_star || star_si >= len)
            return 0;
        si = ++star_si;
        pos = star;
    }
}

static int glob_str(const char *pattern, unsigned flags, const struct berth_policy_request *req,
                    const char *str)
{
    struct pat p = {pattern, strlen(pattern), flags, req};
    return glob(&p, str, strlen(str));
}

/* Offsets of the first five colons, skipping ${...} when vars so that the colon in a variable
 * name (aws:username) is not taken for a separator. Returns how many were found. */
static size_t arn_cuts(const char *s, size_t n, int vars, size_t cut[5])
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < 5; i++) {
        if (vars && s[i] == '$' && i + 1 < n && s[i + 1] == '{') {
            const char *close = memchr(s + i, '}', n - i);
            if (!close)
                break;
            i = (size_t)(close - s);
            continue;
        }
        if (s[i] == ':')
            cut[k++] = i;
    }
    return k;
}

/* IMPLEMENTATION-OF IAM "ARN condition operators": "Each of the six colon-delimited components
 * of the ARN is checked separately and each can include multi-character match wildcards (*) or
 * single-character match wildcards (?)". ArnEquals and ArnLike behave the same. */
static int arn_match(const char *pattern, unsigned flags, const struct berth_policy_request *req,
                     const char *str)
{
    struct pat p = {pattern, strlen(pattern), flags | PAT_WILD, req};
    size_t len = strlen(str), pc[5], sc[5];
    if (vars_resolve(&p) < 0)
        return -1;
    /* A value that is not ARN-shaped matches nothing, unless it is all stars ("*"). */
    if (arn_cuts(p.s, p.n, (flags & PAT_VARS) != 0, pc) < 5)
        return strspn(p.s, "*") == p.n && p.n > 0;
    if (arn_cuts(str, len, 0, sc) < 5)
        return 0;
    size_t ps = 0, ss = 0;
    for (int k = 0; k < 6; k++) {
        size_t pe = k < 5 ? pc[k] : p.n, se = k < 5 ? sc[k] : len;
        struct pat sub = {p.s + ps, pe - ps, p.flags, req};
        int m = glob(&sub, str + ss, se - ss);
        if (m <= 0)
            return m;
        ps = pe + 1;
        ss = se + 1;
    }
    return 1;
}

/* ---- parsing ----------------------------------------------------------------------------- */

/* jansson recurses once per nesting level; a policy never needs more than a few, so deeper
 * input is refused before it is parsed at all. */
static int depth_check(const char *s, size_t len)
{
    size_t depth = 0;
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > BERTH_POLICY_DEPTH_MAX)
                return bad("policy nests deeper than %d levels", BERTH_POLICY_DEPTH_MAX);
        } else if ((c == '}' || c == ']') && depth) {
            depth--;
        }
    }
    return 0;
}

/* A string or a non-empty array of strings (Action, Resource). */
static int strs_parse(struct strs *out, json_t *v, const char *where)
{
    size_t n;
    if (json_is_string(v))
        n = 1;
    else if (json_is_array(v))
        n = json_array_size(v);
    else
        return bad("%s must be a string or an array of strings", where);
    if (n == 0)
        return bad("%s must not be an empty array", where);
    out->v = calloc(n, sizeof(*out->v));
    if (!out->v)
        return nomem();
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_is_string(v) ? v : json_array_get(v, i);
        if (!json_is_string(e))
            return bad("%s[%zu] must be a string", where, i);
        out->v[i] = json_string_value(e);
        if (!*out->v[i])
            return bad("%s[%zu] must not be empty", where, i);
    }
    return 0;
}

/* IMPLEMENTATION-OF IAM "Action": "prefix:action", where prefix names the service; "*" alone
 * means every action of every service. */
static int action_valid(const char *a)
{
    if (strcmp(a, "*") == 0)
        return 1;
    const char *colon = strchr(a, ':');
    if (!colon || colon == a || !colon[1])
        return 0;
    for (const char *c = a; c < colon; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-'))
            return 0;
    }
    return 1;
}

/* arn:PARTITION:iam::ACCOUNT:root|user/...|role/... or arn:PARTITION:sts::ACCOUNT:assumed-role/.
 * Sets *account to the 12 digits; *is_root when the ARN names the whole account. */
static int principal_arn_valid(const char *s, const char **account, int *is_root)
{
    const char *p = s;
    if (strncmp(p, "arn:", 4) != 0)
        return 0;
    p += 4;
    if (strncmp(p, "aws:", 4) == 0)
        p += 4;
    else if (strncmp(p, "aws-cn:", 7) == 0)
        p += 7;
    else if (strncmp(p, "aws-us-gov:", 11) == 0)
        p += 11;
    else
        return 0;
    int sts = 0;
    if (strncmp(p, "iam::", 5) == 0) {
        p += 5;
    } else if (strncmp(p, "sts::", 5) == 0) {
        p += 5;
        sts = 1;
    } else {
        return 0;
    }
    if (strlen(p) < ACCOUNT_LEN + 2 || !is_digits(p, ACCOUNT_LEN) || p[ACCOUNT_LEN] != ':')
        return 0;
    *account = p;
    p += ACCOUNT_LEN + 1;
    /* IMPLEMENTATION-OF IAM "Principal": wildcards cannot match part of a principal name. */
    if (strpbrk(p, "*?"))
        return 0;
    *is_root = !sts && strcmp(p, "root") == 0;
    if (*is_root)
        return 1;
    const char *name = NULL;
    if (!sts && strncmp(p, "user/", 5) == 0)
        name = p + 5;
    else if (!sts && strncmp(p, "role/", 5) == 0)
        name = p + 5;
    else if (sts && strncmp(p, "assumed-role/", 13) == 0)
        name = p + 13;
    return name && *name;
}

static int princ_parse(struct stmt *st, json_t *v, const char *where)
{
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "*") != 0)
            return bad("%s must be \"*\" or an object such as {\"AWS\": ...}", where);
        st->princ = calloc(1, sizeof(*st->princ));
        if (!st->princ)
            return nomem();
        st->princ[0].kind = P_ANY;
        st->nprinc = 1;
        return 0;
    }
    if (!json_is_object(v) || json_object_size(v) == 0)
        return bad("%s must be \"*\" or a non-empty object such as {\"AWS\": ...}", where);

    const char *type;
    json_t *val;
    size_t total = 0;
    json_object_foreach(v, type, val)
    {
        if (strcmp(type, "AWS") != 0 && strcmp(type, "Service") != 0)
            return bad("%s: principal type %s is not supported (only AWS and Service)", where,
                       shown(type));
        if (json_is_string(val))
            total++;
        else if (json_is_array(val) && json_array_size(val) > 0)
            total += json_array_size(val);
        else
            return bad("%s.%s must be a string or a non-empty array of strings", where, type);
    }
    st->princ = calloc(total, sizeof(*st->princ));
    if (!st->princ)
        return nomem();
    json_object_foreach(v, type, val)
    {
        int aws = strcmp(type, "AWS") == 0;
        size_t n = json_is_string(val) ? 1 : json_array_size(val);
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_is_string(val) ? val : json_array_get(val, i);
            if (!json_is_string(e) || !*json_string_value(e))
                return bad("%s.%s[%zu] must be a non-empty string", where, type, i);
            const char *s = json_string_value(e), *account;
            struct princ *pr = &st->princ[st->nprinc++];
            int is_root;
            if (!aws) {
                pr->kind = P_SERVICE;
                pr->s = s;
            } else if (strcmp(s, "*") == 0) {
                pr->kind = P_ANY;
            } else if (is_account(s)) {
                pr->kind = P_ACCOUNT;
                pr->s = s;
            } else if (principal_arn_valid(s, &account, &is_root)) {
                pr->kind = is_root ? P_ACCOUNT : P_ARN;
                pr->s = is_root ? account : s;
            } else {
                return bad("%s.AWS[%zu] must be \"*\", a 12-digit account id or an IAM ARN "
                           "without wildcards",
                           where, i);
            }
        }
    }
    return 0;
}

static const struct op *op_find(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (strlen(ops[i].name) == n && strncmp(ops[i].name, name, n) == 0)
            return &ops[i];
    }
    return NULL;
}

/* Condition values are strings in the document from here on: booleans and numbers, which
 * policies often write unquoted, are replaced by their text so evaluation reads one type. */
static json_t *as_text(json_t *v)
{
    char buf[64];
    if (json_is_true(v))
        return json_string("true");
    if (json_is_false(v))
        return json_string("false");
    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return json_string(buf);
    }
    snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
    return json_string(buf);
}

static int value_valid(const struct op *op, const char *s)
{
    double d;
    struct addr a;
    switch (op->kind) {
    case K_NUMERIC:
        return parse_num(s, &d) == 0;
    case K_DATE:
        return parse_date(s, &d) == 0;
    case K_BOOL:
    case K_NULL:
        return is_true_false(s);
    case K_IP:
        return parse_addr(s, 1, &a) == 0;
    default:
        return 1;
    }
}

static int cond_parse(struct stmt *st, json_t *c, const char *where)
{
    if (!json_is_object(c) || json_object_size(c) == 0)
        return bad("%s.Condition must be a non-empty object", where);
    const char *opname;
    json_t *block;
    size_t total = 0;
    json_object_foreach(c, opname, block)
    {
        if (!json_is_object(block) || json_object_size(block) == 0)
            return bad("%s.Condition.%s must be a non-empty object of condition keys", where,
                       shown(opname));
        total += json_object_size(block);
    }
    st->conds = calloc(total, sizeof(*st->conds));
    if (!st->conds)
        return nomem();

    json_object_foreach(c, opname, block)
    {
        /* IMPLEMENTATION-OF IAM "Set operators for multivalued context keys" and
         * "...IfExists condition operators": [ForAnyValue:|ForAllValues:]Operator[IfExists]. */
        const char *base = opname;
        enum oset set = SET_NONE;
        if (strncmp(base, "ForAnyValue:", 12) == 0) {
            set = SET_ANY;
            base += 12;
        } else if (strncmp(base, "ForAllValues:", 13) == 0) {
            set = SET_ALL;
            base += 13;
        }
        size_t bn = strlen(base);
        int if_exists = bn > 8 && strcmp(base + bn - 8, "IfExists") == 0;
        const struct op *op = op_find(base, if_exists ? bn - 8 : bn);
        if (!op)
            return bad("%s.Condition: unknown condition operator %s", where, shown(opname));
        if (op->kind == K_NULL && (if_exists || set != SET_NONE))
            return bad("%s.Condition: %s cannot be combined with IfExists or a set operator", where,
                       shown(opname));

        for (void *it = json_object_iter(block); it; it = json_object_iter_next(block, it)) {
            const char *key = json_object_iter_key(it);
            json_t *val = json_object_iter_value(it);
            const char *colon = strchr(key, ':');
            if (!colon || colon == key || !colon[1])
                return bad("%s.Condition.%s: condition key %s must be prefix:name", where, op->name,
                           shown(key));
            int scalar = json_is_string(val) || json_is_boolean(val) || json_is_number(val);
            if (!scalar && !(json_is_array(val) && json_array_size(val) > 0))
                return bad("%s.Condition.%s.%s must be a string, boolean, number or a "
                           "non-empty array of them",
                           where, op->name, shown(key));
            if (json_is_boolean(val) || json_is_number(val)) {
                json_t *t = as_text(val);
                if (!t || json_object_iter_set_new(block, it, t) < 0)
                    return nomem();
                val = t;
            }
            struct cond *cd = &st->conds[st->nconds++];
            cd->op = op;
            cd->set = set;
            cd->if_exists = if_exists;
            cd->key = key;
            size_t n = json_is_array(val) ? json_array_size(val) : 1;
            cd->vals.v = calloc(n, sizeof(*cd->vals.v));
            if (!cd->vals.v)
                return nomem();
            cd->vals.n = n;
            for (size_t i = 0; i < n; i++) {
                json_t *e = json_is_array(val) ? json_array_get(val, i) : val;
                if (json_is_boolean(e) || json_is_number(e)) {
                    json_t *t = as_text(e);
                    if (!t || json_array_set_new(val, i, t) < 0)
                        return nomem();
                    e = t;
                }
                if (!json_is_string(e))
                    return bad("%s.Condition.%s.%s[%zu] must be a string, boolean or number", where,
                               op->name, shown(key), i);
                cd->vals.v[i] = json_string_value(e);
                if (!value_valid(op, cd->vals.v[i]))
                    return bad("%s.Condition.%s.%s[%zu] is not a valid %s value", where, op->name,
                               shown(key), i, op->name);
            }
        }
    }
    return 0;
}

static int stmt_parse(struct berth_policy *p, struct stmt *st, json_t *o, size_t idx)
{
    static const char *const known[] = {"Sid",       "Effect",       "Action",
                                        "NotAction", "Resource",     "NotResource",
                                        "Principal", "NotPrincipal", "Condition"};
    char where[48], sub[64];
    int rc;
    snprintf(where, sizeof(where), "Statement[%zu]", idx);
    if (!json_is_object(o))
        return bad("%s must be an object", where);

    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        size_t i = 0;
        while (i < sizeof(known) / sizeof(known[0]) && strcmp(k, known[i]) != 0)
            i++;
        if (i == sizeof(known) / sizeof(known[0]))
            return bad("%s: unknown element %s", where, shown(k));
    }

    if ((v = json_object_get(o, "Sid"))) {
        if (!json_is_string(v))
            return bad("%s: Sid must be a string", where);
        st->sid = json_string_value(v);
    }

    v = json_object_get(o, "Effect");
    if (!v)
        return bad("%s: Effect is required", where);
    if (json_is_string(v) && strcmp(json_string_value(v), "Deny") == 0)
        st->deny = 1;
    else if (!json_is_string(v) || strcmp(json_string_value(v), "Allow") != 0)
        return bad("%s: Effect must be Allow or Deny", where);

    json_t *a = json_object_get(o, "Action"), *na = json_object_get(o, "NotAction");
    if (a && na)
        return bad("%s: Action and NotAction cannot both be present", where);
    if (!a && !na)
        return bad("%s: Action or NotAction is required", where);
    st->not_action = na != NULL;
    snprintf(sub, sizeof(sub), "%s.%s", where, na ? "NotAction" : "Action");
    if ((rc = strs_parse(&st->actions, na ? na : a, sub)) < 0)
        return rc;
    for (size_t i = 0; i < st->actions.n; i++) {
        if (!action_valid(st->actions.v[i]))
            return bad("%s[%zu] must be \"*\" or service:action", sub, i);
    }

    json_t *r = json_object_get(o, "Resource"), *nr = json_object_get(o, "NotResource");
    if (r && nr)
        return bad("%s: Resource and NotResource cannot both be present", where);
    if (!r && !nr && !p->resource_policy)
        return bad("%s: Resource or NotResource is required in an identity policy", where);
    if (r || nr) {
        st->has_resource = 1;
        st->not_resource = nr != NULL;
        snprintf(sub, sizeof(sub), "%s.%s", where, nr ? "NotResource" : "Resource");
        if ((rc = strs_parse(&st->resources, nr ? nr : r, sub)) < 0)
            return rc;
        for (size_t i = 0; i < st->resources.n; i++) {
            const char *s = st->resources.v[i];
            if (strcmp(s, "*") != 0 && strncmp(s, "arn:", 4) != 0)
                return bad("%s[%zu] must be \"*\" or an ARN", sub, i);
        }
    }

    json_t *pr = json_object_get(o, "Principal"), *npr = json_object_get(o, "NotPrincipal");
    if (!p->resource_policy && (pr || npr))
        return bad("%s: %s is not allowed in an identity policy", where,
                   pr ? "Principal" : "NotPrincipal");
    if (p->resource_policy) {
        if (pr && npr)
            return bad("%s: Principal and NotPrincipal cannot both be present", where);
        if (!pr && !npr)
            return bad("%s: Principal or NotPrincipal is required in a resource policy", where);
        /* IMPLEMENTATION-OF IAM "NotPrincipal": "NotPrincipal must be used with
         * "Effect":"Deny". Using it with "Effect":"Allow" is not supported." */
        if (npr && !st->deny)
            return bad("%s: NotPrincipal is only allowed with Effect Deny", where);
        st->not_principal = npr != NULL;
        snprintf(sub, sizeof(sub), "%s.%s", where, npr ? "NotPrincipal" : "Principal");
        if ((rc = princ_parse(st, npr ? npr : pr, sub)) < 0)
            return rc;
    }

    if ((v = json_object_get(o, "Condition")) && (rc = cond_parse(st, v, where)) < 0)
        return rc;
    return 0;
}

int berth_policy_parse(const char *json, size_t len, int resource_policy, struct berth_policy **out)
{
    struct berth_policy *p = NULL;
    json_error_t jerr;
    int rc;

    *out = NULL;
    if (!json || len == 0) {
        rc = bad("policy document is empty");
        goto out;
    }
    if (len > BERTH_POLICY_MAX) {
        rc = bad("policy document is %zu bytes; the limit is %d", len, BERTH_POLICY_MAX);
        goto out;
    }
    if ((rc = depth_check(json, len)) < 0)
        goto out;
    p = calloc(1, sizeof(*p));
    if (!p) {
        rc = nomem();
        goto out;
    }
    p->resource_policy = resource_policy != 0;
    /* Duplicate keys are refused: with two "Effect"s, which one counts would be up to the
     * parser, and a policy must mean one thing. */
    p->doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!p->doc) {
        rc = bad("policy is not valid JSON (line %d, column %d): %s", jerr.line, jerr.column,
                 jerr.text);
        goto out;
    }
    if (!json_is_object(p->doc)) {
        rc = bad("policy must be a JSON object");
        goto out;
    }

    const char *k;
    json_t *v;
    json_object_foreach(p->doc, k, v)
    {
        if (strcmp(k, "Version") != 0 && strcmp(k, "Id") != 0 && strcmp(k, "Statement") != 0) {
            rc = bad("policy: unknown element %s", shown(k));
            goto out;
        }
    }
    /* IMPLEMENTATION-OF IAM "Version": without Version 2012-10-17, "variables such as
     * ${aws:username} won't be recognized as variables and will instead be treated as literal
     * strings". */
    if ((v = json_object_get(p->doc, "Version"))) {
        const char *ver = json_string_value(v);
        if (!ver || (strcmp(ver, "2012-10-17") != 0 && strcmp(ver, "2008-10-17") != 0)) {
            rc = bad("Version must be \"2012-10-17\" or \"2008-10-17\"");
            goto out;
        }
        p->vars = strcmp(ver, "2012-10-17") == 0;
    }
    if ((v = json_object_get(p->doc, "Id")) && !json_is_string(v)) {
        rc = bad("Id must be a string");
        goto out;
    }

    json_t *sts = json_object_get(p->doc, "Statement");
    if (!sts) {
        rc = bad("Statement is required");
        goto out;
    }
    size_t n = json_is_array(sts) ? json_array_size(sts) : 1;
    if (!json_is_array(sts) && !json_is_object(sts)) {
        rc = bad("Statement must be an object or an array of objects");
        goto out;
    }
    if (n == 0) {
        rc = bad("Statement must not be an empty array");
        goto out;
    }
    p->st = calloc(n, sizeof(*p->st));
    if (!p->st) {
        rc = nomem();
        goto out;
    }
    p->nst = n; /* before filling in, so a failure part-way frees what was allocated */
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_is_array(sts) ? json_array_get(sts, i) : sts;
        if ((rc = stmt_parse(p, &p->st[i], o, i)) < 0)
            goto out;
        for (size_t j = 0; j < i && p->st[i].sid && *p->st[i].sid; j++) {
            if (p->st[j].sid && strcmp(p->st[j].sid, p->st[i].sid) == 0) {
                rc = bad("Statement[%zu]: Sid repeats the Sid of Statement[%zu]", i, j);
                goto out;
            }
        }
    }
    *out = p;
    p = NULL;
    rc = 0;
out:
    berth_policy_free(p);
    return rc;
}

void berth_policy_free(struct berth_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nst; i++) {
        struct stmt *st = &p->st[i];
        free(st->actions.v);
        free(st->resources.v);
        free(st->princ);
        for (size_t j = 0; j < st->nconds; j++)
            free(st->conds[j].vals.v);
        free(st->conds);
    }
    free(p->st);
    json_decref(p->doc);
    free(p);
}

/* ---- evaluation -------------------------------------------------------------------------- */

/* The caller's account: principal_account, else the account field of principal_arn. Points at
 * 12 digits (not necessarily NUL-terminated), or NULL for anonymous or unknown callers. */
static const char *req_account(const struct berth_policy_request *req)
{
    if (!req->principal_arn)
        return NULL;
    if (req->principal_account)
        return is_account(req->principal_account) ? req->principal_account : NULL;
    const char *a = req->principal_arn;
    for (int colons = 0; colons < 4; colons++) {
        a = strchr(a, ':');
        if (!a)
            return NULL;
        a++;
    }
    return strlen(a) > ACCOUNT_LEN && is_digits(a, ACCOUNT_LEN) && a[ACCOUNT_LEN] == ':' ? a : NULL;
}

/* How a statement's Principal names the caller: not at all, through the caller's account, or
 * directly ("*" or the caller's own ARN). The difference matters within one account. */
enum pmatch { PM_NO, PM_ACCOUNT, PM_DIRECT };

static enum pmatch princ_match(const struct stmt *st, const struct berth_policy_request *req)
{
    const char *acct = req_account(req);
    enum pmatch best = PM_NO;
    for (size_t i = 0; i < st->nprinc; i++) {
        const struct princ *pr = &st->princ[i];
        if (pr->kind == P_ANY)
            return PM_DIRECT;
        if (pr->kind == P_ARN && req->principal_arn && strcmp(pr->s, req->principal_arn) == 0)
            return PM_DIRECT;
        if (pr->kind == P_ACCOUNT && acct && memcmp(pr->s, acct, ACCOUNT_LEN) == 0)
            best = PM_ACCOUNT;
    }
    return best;
}

/* IMPLEMENTATION-OF IAM "NotPrincipal": "you must also specify the account ARN of the principal
 * that isn't denied. Otherwise, the policy might deny access to the entire account ...
 * AWS might verify the account first and then the user." A caller is the pair (account, user);
 * the Deny spares it only when both are listed. Anonymous callers are spared only by "*". */
static int notprinc_applies(const struct stmt *st, const struct berth_policy_request *req)
{
    const char *acct = req_account(req);
    int acct_listed = 0, user_listed = 0;
    size_t an = strlen(req->principal_arn ? req->principal_arn : "");
    int caller_is_root = an > 5 && strcmp(req->principal_arn + an - 5, ":root") == 0;
    for (size_t i = 0; i < st->nprinc; i++) {
        const struct princ *pr = &st->princ[i];
        if (pr->kind == P_ANY)
            return 0;
        if (pr->kind == P_ARN && req->principal_arn && strcmp(pr->s, req->principal_arn) == 0)
            user_listed = 1;
        if (pr->kind == P_ACCOUNT && acct && memcmp(pr->s, acct, ACCOUNT_LEN) == 0)
            acct_listed = 1;
    }
    if (!req->principal_arn)
        return 1;
    if (caller_is_root)
        user_listed = acct_listed;
    return !(acct_listed && user_listed);
}

/* 1 if one of the patterns matches, 0 if none does, -1 if one could not be evaluated and none
 * matched. */
static int list_match(const struct strs *l, unsigned flags, const struct berth_policy_request *req,
                      const char *str)
{
    int failed = 0;
    for (size_t i = 0; i < l->n; i++) {
        int m = glob_str(l->v[i], flags, req, str);
        if (m > 0)
            return 1;
        if (m < 0)
            failed = 1;
    }
    return failed ? -1 : 0;
}

static int compare(const struct berth_policy *p, const struct op *op, const char *r, const char *v,
                   const struct berth_policy_request *req)
{
    unsigned vars = p->vars ? PAT_VARS : 0;
    double a, b;
    struct addr net, ip;
    switch (op->kind) {
    case K_STRING:
        return glob_str(v, vars, req, r);
    case K_STRING_IC:
        return glob_str(v, vars | PAT_ICASE, req, r);
    case K_STRING_LIKE:
        return glob_str(v, vars | PAT_WILD, req, r);
    case K_ARN:
        return arn_match(v, vars, req, r);
    case K_BOOL:
        return is_true_false(r) && strcasecmp(r, v) == 0;
    case K_IP:
        return parse_addr(v, 1, &net) == 0 && parse_addr(r, 0, &ip) == 0 && addr_in(&net, &ip);
    case K_NUMERIC:
    case K_DATE:
        if (op->kind == K_NUMERIC ? (parse_num(r, &a) < 0 || parse_num(v, &b) < 0)
                                  : (parse_date(r, &a) < 0 || parse_date(v, &b) < 0))
            return 0;
        switch (op->cmp) {
        case C_EQ:
            return a == b;
        case C_LT:
            return a < b;
        case C_LE:
            return a <= b;
        case C_GT:
            return a > b;
        case C_GE:
            return a >= b;
        }
        return 0;
    case K_NULL:
        return 0; /* handled by the caller: it looks at presence, not values */
    }
    return 0;
}

/* IMPLEMENTATION-OF IAM "Conditions with multiple context keys or values": "If a single
 * condition operator includes multiple values for a context key, those values are evaluated
 * using a logical OR ... If a single negated matching condition operator includes multiple
 * values for a context key, those values are evaluated using a logical NOR." */
static int one_value(const struct berth_policy *p, const struct cond *c, const char *r,
                     const struct berth_policy_request *req)
{
    int hit = 0;
    for (size_t i = 0; i < c->vals.n && !hit; i++) {
        int m = compare(p, c->op, r, c->vals.v[i], req);
        if (m < 0)
            return -1;
        hit = m;
    }
    return c->op->negated ? !hit : hit;
}

/* 1 holds, 0 does not, -1 a policy variable could not be resolved. */
static int cond_eval(const struct berth_policy *p, const struct cond *c,
                     const struct berth_policy_request *req)
{
    size_t present = 0;
    for (size_t i = 0; i < req->nctx; i++) {
        if (req->ctx[i].key && req->ctx[i].value && strcasecmp(req->ctx[i].key, c->key) == 0)
            present++;
    }
    /* IMPLEMENTATION-OF IAM "Condition operator to check existence of condition keys": "true
     * (the key doesn't exist — it is null) or false (the key exists and its value is not
     * null)". Several values: OR. */
    if (c->op->kind == K_NULL) {
        for (size_t i = 0; i < c->vals.n; i++) {
            if ((present == 0) == (strcasecmp(c->vals.v[i], "true") == 0))
                return 1;
        }
        return 0;
    }
    /* IMPLEMENTATION-OF IAM "Condition operators": "If the key that you specify in a policy
     * condition is not present in the request context, the values do not match and the
     * condition is false. If the policy condition requires that the key is not matched, such as
     * StringNotLike or ArnNotLike, and the right key is not present, the condition is true."
     * IfExists: "If the policy key is not present, the condition evaluates to true."
     * ForAllValues is true of an empty set; ForAnyValue is false. */
    if (present == 0) {
        if (c->if_exists || c->set == SET_ALL)
            return 1;
        if (c->set == SET_ANY)
            return 0;
        return c->op->negated;
    }
    int any = 0, all = 1;
    for (size_t i = 0; i < req->nctx; i++) {
        const struct berth_policy_ctx *x = &req->ctx[i];
        if (!x->key || !x->value || strcasecmp(x->key, c->key) != 0)
            continue;
        int m = one_value(p, c, x->value, req);
        if (m < 0)
            return -1;
        if (m)
            any = 1;
        else
            all = 0;
    }
    if (c->set == SET_ALL)
        return all;
    if (c->set == SET_ANY)
        return any;
    /* A multivalued key under a plain operator: a positive operator needs one value to match,
     * a negated one needs every value to stay clear of the policy's values. */
    return c->op->negated ? all : any;
}

/* Whether the statement applies to req; *how says how its Principal named the caller. A
 * statement that cannot be evaluated (an unresolvable policy variable) does not apply, as the
 * IAM guide warns: "If AWS cannot resolve a variable this might cause the entire statement to
 * be invalid." */
static int stmt_applies(const struct berth_policy *p, const struct stmt *st,
                        const struct berth_policy_request *req, enum pmatch *how)
{
    *how = PM_DIRECT;
    if (p->resource_policy) {
        if (st->not_principal) {
            if (!notprinc_applies(st, req))
                return 0;
        } else if ((*how = princ_match(st, req)) == PM_NO) {
            return 0;
        }
    }
    int m = list_match(&st->actions, PAT_WILD | PAT_ICASE, NULL, req->action);
    if (m < 0 || m == st->not_action)
        return 0;
    if (st->has_resource) {
        m = list_match(&st->resources, PAT_WILD | (p->vars ? PAT_VARS : 0), req, req->resource);
        if (m < 0 || m == st->not_resource)
            return 0;
    }
    for (size_t i = 0; i < st->nconds; i++) {
        if (cond_eval(p, &st->conds[i], req) != 1)
            return 0;
    }
    return 1;
}

struct verdict {
    int deny;
    int allow;        /* some Allow applies */
    int allow_direct; /* some Allow applies whose Principal names the caller, not the account */
};

static void policy_eval(const struct berth_policy *p, const struct berth_policy_request *req,
                        struct verdict *v)
{
    memset(v, 0, sizeof(*v));
    if (!p || !req || !req->action || !req->resource)
        return;
    for (size_t i = 0; i < p->nst && !v->deny; i++) {
        enum pmatch how;
        if (!stmt_applies(p, &p->st[i], req, &how))
            continue;
        if (p->st[i].deny) {
            v->deny = 1;
        } else {
            v->allow = 1;
            v->allow_direct |= how == PM_DIRECT;
        }
    }
}

enum berth_policy_effect berth_policy_evaluate(const struct berth_policy *p,
                                               const struct berth_policy_request *req)
{
    struct verdict v;
    policy_eval(p, req, &v);
    return v.deny ? BERTH_POLICY_DENY : v.allow ? BERTH_POLICY_ALLOW : BERTH_POLICY_NONE;
}

/* ---- the decision ------------------------------------------------------------------------ */

static int decided(int allow, const char *reason, const struct berth_policy_request *req,
                   const char **out_reason)
{
    if (!allow)
        berth_err_set(BERTH_EDENIED, BERTH_WHAT_NONE, "%s (%s on %s)", reason,
                      req && req->action ? req->action : "-",
                      req && req->resource ? req->resource : "-");
    if (out_reason)
        *out_reason = reason;
    return allow;
}

/* IMPLEMENTATION-OF IAM "Policy evaluation logic" and "Cross-account policy evaluation logic":
 * an explicit deny in any applicable policy overrides any allow; within one account "the
 * resulting permissions are the union" of identity and resource policies; across accounts
 * both the identity policy and the resource-based policy must allow. */
int berth_authz_decide(const struct berth_authz_input *in, const struct berth_policy_request *req,
                       const char **out_reason)
{
    if (!in || !req || !req->action || !req->resource || (in->nidentity && !in->identity))
        return decided(0, "malformed authorization request", req, out_reason);

    int anonymous = req->principal_arn == NULL;
    struct verdict repo, reg, id = {0};
    policy_eval(in->resource, req, &repo);
    policy_eval(in->registry, req, &reg);
    for (size_t i = 0; !anonymous && i < in->nidentity && !id.deny; i++) {
        struct verdict one;
        policy_eval(in->identity[i], req, &one);
        id.deny |= one.deny;
        id.allow |= one.allow;
    }

    if (repo.deny)
        return decided(0, "explicit deny in repository policy", req, out_reason);
    if (reg.deny)
        return decided(0, "explicit deny in registry policy", req, out_reason);
    if (id.deny)
        return decided(0, "explicit deny in identity policy", req, out_reason);

    /* Only a Principal of "*" names an anonymous caller, so any resource Allow here is one. */
    if (anonymous) {
        if (repo.allow_direct)
            return decided(1, "anonymous access allowed by repository policy", req, out_reason);
        if (reg.allow_direct)
            return decided(1, "anonymous access allowed by registry policy", req, out_reason);
        return decided(0,
                       "anonymous access needs a repository or registry policy allowing "
                       "Principal \"*\"",
                       req, out_reason);
    }

    const char *acct = req_account(req);
    int same = acct && is_account(in->resource_account) &&
               memcmp(acct, in->resource_account, ACCOUNT_LEN) == 0;
    if (same) {
        if (id.allow)
            return decided(1, "allowed by identity policy", req, out_reason);
        if (in->is_admin)
            return decided(1, "allowed as account admin", req, out_reason);
        if (repo.allow_direct)
            return decided(1, "allowed by repository policy", req, out_reason);
        if (reg.allow_direct)
            return decided(1, "allowed by registry policy", req, out_reason);
        /* IMPLEMENTATION-OF IAM "Principal", AWS account principals: naming an account
         * "delegates authority to the account"; its users still need an identity policy. */
        if (repo.allow || reg.allow)
            return decided(0,
                           "the resource policy grants only the account, and no identity "
                           "policy allows the action",
                           req, out_reason);
        return decided(0, "no identity, repository or registry policy allows the action", req,
                       out_reason);
    }

    int id_ok = id.allow || in->is_admin, res_ok = repo.allow || reg.allow;
    if (!id_ok && !res_ok)
        return decided(0,
                       "cross-account: neither an identity policy nor a repository or "
                       "registry policy allows the action",
                       req, out_reason);
    if (!id_ok)
        return decided(0, "cross-account: no identity policy allows the action", req, out_reason);
    if (!res_ok)
        return decided(0, "cross-account: no repository or registry policy allows the action", req,
                       out_reason);
    return decided(1, "cross-account: allowed by identity and resource policies", req, out_reason);
}
