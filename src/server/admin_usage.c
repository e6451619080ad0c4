/*
 * `berth admin usage` output: a fixed-width table for people and one JSON object for scripts.
 * Separate from admin.c so the format can be tested without a data directory.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "server/admin.h"

#define NCOLS 7

static const char *const headers[NCOLS] = {
    "REPOSITORY", "STORED_BYTES",     "IMAGES",        "UNTAGGED",
    "PULLS_30D",  "SERVED_BYTES_30D", "USD_PER_MONTH",
};

/* One row's cells as text; the table sizes each column to its widest cell. */
struct row {
    char cell[NCOLS][272];
};

static void row_fill(struct row *w, const struct berth_meta_repo_usage *u, double price)
{
    snprintf(w->cell[0], sizeof(w->cell[0]), "%s", u->name);
    snprintf(w->cell[1], sizeof(w->cell[1]), "%" PRId64, u->stored_bytes);
    snprintf(w->cell[2], sizeof(w->cell[2]), "%" PRId64, u->images);
    snprintf(w->cell[3], sizeof(w->cell[3]), "%" PRId64, u->untagged);
    snprintf(w->cell[4], sizeof(w->cell[4]), "%" PRId64, u->pulls);
    snprintf(w->cell[5], sizeof(w->cell[5]), "%" PRId64, u->bytes_served);
    snprintf(w->cell[6], sizeof(w->cell[6]), "%.2f", berth_usage_cost(u->stored_bytes, price));
}

static void row_print(FILE *out, const char *const cells[NCOLS], const size_t width[NCOLS])
{
    /* names left-aligned, numbers right-aligned, two spaces between columns */
    fprintf(out, "%-*s", (int)width[0], cells[0]);
    for (int c = 1; c < NCOLS; c++)
        fprintf(out, "  %*s", (int)width[c], cells[c]);
    fputc('\n', out);
}

static void day_text(int64_t day, char out[16])
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 16, "%Y-%m-%d", &tm) == 0)
        snprintf(out, 16, "day %" PRId64, day);
}

static int print_text(FILE *out, const char *account, const struct berth_usage_report *rep,
                      const char *price_text, double price)
{
    size_t n = rep->repos.n + 1;
    struct row *rows = calloc(n, sizeof(*rows));
    if (!rows)
        return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
    size_t width[NCOLS];
    for (int c = 0; c < NCOLS; c++)
        width[c] = strlen(headers[c]);
    for (size_t i = 0; i < n; i++) {
        row_fill(&rows[i], i < rep->repos.n ? &rep->repos.items[i] : &rep->total, price);
        for (int c = 0; c < NCOLS; c++) {
            size_t l = strlen(rows[i].cell[c]);
            if (l > width[c])
                width[c] = l;
        }
    }
    row_print(out, headers, width);
    for (size_t i = 0; i < n; i++) {
        const char *cells[NCOLS];
        for (int c = 0; c < NCOLS; c++)
            cells[c] = rows[i].cell[c];
        row_print(out, cells, width);
    }
    free(rows);
    char from[16], to[16];
    day_text(rep->from_day, from);
    day_text(rep->to_day, to);
    fprintf(out,
            "registry: %" PRId64 " physical bytes (every blob once, every manifest); %" PRId64
            " bytes stored by all repositories of all accounts; deduplication saves %" PRId64
            " bytes\n",
            rep->physical_bytes, rep->stored_bytes, rep->dedup_saving);
    fprintf(out,
            "account %s: pulls and served bytes from %s to %s (UTC); storage at $%s per "
            "GB-month (1 GB = 2^30 bytes)\n",
            account, from, to, price_text);
    return 0;
}

static json_t *usage_json(const struct berth_meta_repo_usage *u, double price, int with_name)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (with_name)
        json_object_set_new(o, "name", json_string(u->name));
    json_object_set_new(o, "stored_bytes", json_integer(u->stored_bytes));
    json_object_set_new(o, "images", json_integer(u->images));
    json_object_set_new(o, "untagged", json_integer(u->untagged));
    json_object_set_new(o, "pulls_30d", json_integer(u->pulls));
    json_object_set_new(o, "served_bytes_30d", json_integer(u->bytes_served));
    json_object_set_new(o, "usd_per_month", json_real(berth_usage_cost(u->stored_bytes, price)));
    return o;
}

static int print_json(FILE *out, const char *account, const struct berth_usage_report *rep,
                      double price)
{
    char from[16], to[16];
    day_text(rep->from_day, from);
    day_text(rep->to_day, to);
    json_t *repos = json_array();
    for (size_t i = 0; repos && i < rep->repos.n; i++)
        json_array_append_new(repos, usage_json(&rep->repos.items[i], price, 1));
    json_t *o = json_pack(
        "{s:s,s:{s:s,s:s,s:i},s:f,s:o,s:o,s:{s:I,s:I,s:I,s:I,s:I}}", "account", account, "window",
        "from", from, "to", to, "days", (int)(rep->to_day - rep->from_day + 1),
        "storage_price_usd_per_gb_month", price, "repositories", repos, "total",
        usage_json(&rep->total, price, 0), "registry", "physical_bytes",
        (json_int_t)rep->physical_bytes, "blob_bytes", (json_int_t)rep->registry.blob_bytes,
        "manifest_bytes", (json_int_t)rep->registry.manifest_bytes, "stored_bytes",
        (json_int_t)rep->stored_bytes, "dedup_saving_bytes", (json_int_t)rep->dedup_saving);
    char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    json_decref(o);
    if (!text)
        return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
    fprintf(out, "%s\n", text);
    free(text);
    return 0;
}

int berth_admin_usage_print(FILE *out, const char *account, const struct berth_usage_report *rep,
                            const char *price_text, int json)
{
    double price = strtod(price_text, NULL); /* validated by the config loader */
    return json ? print_json(out, account, rep, price)
                : print_text(out, account, rep, price_text, price);
}
