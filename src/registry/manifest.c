#include "registry/manifest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define BAD(...) berth_err_set(BERTH_EINVALID, BERTH_WHAT_MANIFEST, __VA_ARGS__)

int berth_manifest_media_type_known(const char *mt)
{
    return mt && (strcmp(mt, BERTH_MT_OCI_MANIFEST) == 0 || strcmp(mt, BERTH_MT_OCI_INDEX) == 0 ||
                  strcmp(mt, BERTH_MT_DOCKER_MANIFEST) == 0 ||
                  strcmp(mt, BERTH_MT_DOCKER_LIST) == 0);
}

static int is_index_type(const char *mt)
{
    return strcmp(mt, BERTH_MT_OCI_INDEX) == 0 || strcmp(mt, BERTH_MT_DOCKER_LIST) == 0;
}

/* "type/subtype; charset=utf-8" -> "type/subtype" (malloc'd), or NULL when empty. */
static char *bare_content_type(const char *ct)
{
    if (!ct)
        return NULL;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n > 0 && ct[n - 1] == ' ')
        n--;
    if (n == 0)
        return NULL;
    return strndup(ct, n);
}

static int parse_descriptor(json_t *d, const char *where, struct berth_manifest_ref *ref,
                            const char **media_type)
{
    if (!json_is_object(d))
        return BAD("%s must be a descriptor object", where);
    json_t *mt = json_object_get(d, "mediaType");
    json_t *dg = json_object_get(d, "digest");
    json_t *sz = json_object_get(d, "size");
    if (!json_is_string(mt) || json_string_length(mt) == 0)
        return BAD("%s.mediaType must be a non-empty string", where);
    if (!json_is_string(dg))
        return BAD("%s.digest must be a string", where);
    if (!json_is_integer(sz) || json_integer_value(sz) < 0)
        return BAD("%s.size must be a non-negative integer", where);
    json_t *at = json_object_get(d, "artifactType");
    if (at && !json_is_string(at))
        return BAD("%s.artifactType must be a string", where);
    json_t *ann = json_object_get(d, "annotations");
    if (ann && !json_is_object(ann))
        return BAD("%s.annotations must be an object", where);
    int rc = berth_digest_parse(json_string_value(dg), json_string_length(dg), ref->digest);
    if (rc < 0) {
        char why[160];
        snprintf(why, sizeof(why), "%s", berth_err_detail());
        return BAD("%s.digest: %s", where, why);
    }
    ref->size = json_integer_value(sz);
    ref->is_manifest = 0;
    if (media_type)
        *media_type = json_string_value(mt);
    return 0;
}

static char *dup_string(json_t *s)
{
    return json_is_string(s) ? strdup(json_string_value(s)) : NULL;
}

int berth_manifest_parse(const char *body, size_t len, const char *content_type,
                         struct berth_manifest *out)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    char *ct = bare_content_type(content_type);
    int rc = 0;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc = BAD("manifest is not valid JSON: %s (line %d)", jerr.text, jerr.line);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = BAD("manifest must be a JSON object");
        goto out;
    }
    json_t *sv = json_object_get(root, "schemaVersion");
    if (json_is_integer(sv) && json_integer_value(sv) == 1) {
        rc = berth_err_set(BERTH_EUNSUPPORTED, BERTH_WHAT_MANIFEST,
                           "Docker schema 1 manifests are not supported");
        goto out;
    }
    if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
        rc = BAD("schemaVersion must be 2");
        goto out;
    }

    json_t *jmt = json_object_get(root, "mediaType");
    if (jmt && !json_is_string(jmt)) {
        rc = BAD("mediaType must be a string");
        goto out;
    }
    const char *body_mt = jmt ? json_string_value(jmt) : NULL;
    const char *mt = body_mt;
    /* IMPLEMENTATION-OF distribution-spec "Pushing Manifests": the Content-Type must match the
     * manifest's mediaType when the manifest has one. */
    if (body_mt && ct && strcmp(body_mt, ct) != 0) {
        rc = BAD("Content-Type %s does not match the manifest's mediaType %s", ct, body_mt);
        goto out;
    }
    if (!mt)
        mt = ct;
    if (!mt) {
        /* Early OCI manifests omit mediaType; their shape tells what they are. */
        mt = json_object_get(root, "manifests") ? BERTH_MT_OCI_INDEX : BERTH_MT_OCI_MANIFEST;
    }
    if (!berth_manifest_media_type_known(mt)) {
        rc = berth_err_set(BERTH_EUNSUPPORTED, BERTH_WHAT_MANIFEST,
                           "unsupported manifest media type %s", mt);
        goto out;
    }
    out->media_type = strdup(mt);

    json_t *at = json_object_get(root, "artifactType");
    if (at && !json_is_string(at)) {
        rc = BAD("artifactType must be a string");
        goto out;
    }
    out->artifact_type = dup_string(at);

    json_t *ann = json_object_get(root, "annotations");
    if (ann) {
        if (!json_is_object(ann)) {
            rc = BAD("annotations must be an object");
            goto out;
        }
        const char *k;
        json_t *v;
        json_object_foreach(ann, k, v)
        {
            if (!json_is_string(v)) {
                rc = BAD("annotation %s must be a string", k);
                goto out;
            }
        }
        out->annotations = json_dumps(ann, JSON_COMPACT | JSON_SORT_KEYS);
    }

    json_t *subj = json_object_get(root, "subject");
    if (subj) {
        struct berth_manifest_ref sref;
        if ((rc = parse_descriptor(subj, "subject", &sref, NULL)) < 0)
            goto out;
        out->has_subject = 1;
        memcpy(out->subject, sref.digest, sizeof(out->subject));
    }

    if (is_index_type(mt)) {
        out->kind = BERTH_MANIFEST_INDEX;
        if (json_object_get(root, "config") || json_object_get(root, "layers")) {
            rc = BAD("an image index has no config or layers");
            goto out;
        }
        json_t *ms = json_object_get(root, "manifests");
        if (!json_is_array(ms)) {
            rc = BAD("manifests must be an array");
            goto out;
        }
        size_t n = json_array_size(ms);
        out->refs = calloc(n ? n : 1, sizeof(*out->refs));
        if (!out->refs) {
            rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            char where[48];
            snprintf(where, sizeof(where), "manifests[%zu]", i);
            if ((rc = parse_descriptor(json_array_get(ms, i), where, &out->refs[i], NULL)) < 0)
                goto out;
            out->refs[i].is_manifest = 1;
            out->nrefs++;
        }
    } else {
        out->kind = BERTH_MANIFEST_IMAGE;
        if (json_object_get(root, "manifests")) {
            rc = BAD("an image manifest has no manifests array");
            goto out;
        }
        json_t *cfg = json_object_get(root, "config");
        json_t *layers = json_object_get(root, "layers");
        if (!cfg) {
            rc = BAD("config is required");
            goto out;
        }
        if (!json_is_array(layers)) {
            rc = BAD("layers must be an array");
            goto out;
        }
        size_t n = json_array_size(layers);
        out->refs = calloc(n + 1, sizeof(*out->refs));
        if (!out->refs) {
            rc = berth_err_set(BERTH_ENOMEM, BERTH_WHAT_NONE, "out of memory");
            goto out;
        }
        const char *cfg_mt = NULL;
        if ((rc = parse_descriptor(cfg, "config", &out->refs[0], &cfg_mt)) < 0)
            goto out;
        out->config_media_type = strdup(cfg_mt);
        out->nrefs = 1;
        for (size_t i = 0; i < n; i++) {
            char where[48];
            json_t *l = json_array_get(layers, i);
            snprintf(where, sizeof(where), "layers[%zu]", i);
            if ((rc = parse_descriptor(l, where, &out->refs[out->nrefs], NULL)) < 0)
                goto out;
            /* Foreign layers (Windows base images) live at their urls, not in the registry. */
            json_t *urls = json_object_get(l, "urls");
            if (urls && !json_is_array(urls)) {
                rc = BAD("%s.urls must be an array", where);
                goto out;
            }
            if (json_array_size(urls) > 0)
                continue;
            out->nrefs++;
        }
    }
out:
    json_decref(root);
    free(ct);
    if (rc < 0)
        berth_manifest_dispose(out);
    return rc;
}

void berth_manifest_dispose(struct berth_manifest *m)
{
    if (!m)
        return;
    free(m->media_type);
    free(m->artifact_type);
    free(m->config_media_type);
    free(m->annotations);
    free(m->refs);
    memset(m, 0, sizeof(*m));
}
