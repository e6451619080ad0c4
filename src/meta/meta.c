#include "meta/meta.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

void berth_meta_close(struct berth_meta *m)
{
    if (!m)
        return;
    m->ops->close(m->impl);
    free(m);
}

void berth_strlist_dispose(struct berth_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int berth_strlist_push(struct berth_strlist *l, const char *s)
{
    /* Grow in powers of two: capacity is implied by n. */
    if ((l->n & (l->n - 1)) == 0) {
        size_t cap = l->n ? l->n * 2 : 1;
        char **p = realloc(l->items, cap * sizeof(*p));
        if (!p)
            return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
        l->items = p;
    }
    if (!(l->items[l->n] = strdup(s ? s : "")))
        return berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
    l->n++;
    return 0;
}

void berth_meta_manifest_dispose(struct berth_meta_manifest *m)
{
    if (!m)
        return;
    free(m->media_type);
    free(m->artifact_type);
    free(m->config_media_type);
    free(m->subject);
    free(m->annotations);
    free(m->body);
    memset(m, 0, sizeof(*m));
}

void berth_meta_manifest_list_dispose(struct berth_meta_manifest_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        berth_meta_manifest_dispose(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void berth_meta_key_dispose(struct berth_meta_key *k)
{
    if (!k)
        return;
    if (k->sealed)
        OPENSSL_cleanse(k->sealed, k->sealed_len);
    free(k->sealed);
    k->sealed = NULL;
    k->sealed_len = 0;
}

void berth_meta_repo_dispose(struct berth_meta_repo *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->tag_mutability_filters);
    free(r->kms_key);
    free(r->policy);
    free(r->resource_tags);
    memset(r, 0, sizeof(*r));
}

void berth_meta_repo_list_dispose(struct berth_meta_repo_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        berth_meta_repo_dispose(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void berth_meta_repo_usage_list_dispose(struct berth_meta_repo_usage_list *l)
{
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void berth_meta_image_list_dispose(struct berth_meta_image_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct berth_meta_image *im = &l->items[i];
        free(im->media_type);
        free(im->artifact_type);
        free(im->config_media_type);
        free(im->subject);
        berth_strlist_dispose(&im->tags);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void berth_meta_repo_ref_list_dispose(struct berth_meta_repo_ref_list *l)
{
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void berth_meta_lc_preview_dispose(struct berth_meta_lc_preview *p)
{
    if (!p)
        return;
    free(p->policy);
    free(p->results);
    memset(p, 0, sizeof(*p));
}
