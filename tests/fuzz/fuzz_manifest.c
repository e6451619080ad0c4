/*
 * Fuzzes the manifest parser: the first byte picks the request's Content-Type (one of the four
 * manifest media types, with or without parameters, or none), the rest is the body.
 *
 * Besides memory errors, a successful parse must describe itself consistently: the effective
 * media type is known and agrees with the Content-Type, the kind matches the media type, every
 * reference is a parsed sha256 digest with a non-negative size, and index entries (and only
 * they) are manifests.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/digest.h"
#include "registry/manifest.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static const char *const content_types[] = {
    NULL, BERTH_MT_OCI_MANIFEST, BERTH_MT_OCI_INDEX, BERTH_MT_DOCKER_MANIFEST, BERTH_MT_DOCKER_LIST,
};

static int is_index(const char *mt)
{
    return strcmp(mt, BERTH_MT_OCI_INDEX) == 0 || strcmp(mt, BERTH_MT_DOCKER_LIST) == 0;
}

static void check(const struct berth_manifest *m, const char *ct)
{
    CHECK(m->media_type && berth_manifest_media_type_known(m->media_type));
    if (ct)
        CHECK(strcmp(m->media_type, ct) == 0);
    if (is_index(m->media_type)) {
        CHECK(m->kind == BERTH_MANIFEST_INDEX);
        CHECK(m->config_media_type == NULL);
    } else {
        CHECK(m->kind == BERTH_MANIFEST_IMAGE);
        CHECK(m->config_media_type && m->config_media_type[0]);
        CHECK(m->nrefs >= 1); /* the config */
    }
    CHECK(m->nrefs == 0 || m->refs);
    for (size_t i = 0; i < m->nrefs; i++) {
        const struct berth_manifest_ref *r = &m->refs[i];
        CHECK(berth_digest_parse(r->digest, strlen(r->digest), NULL) == 0);
        CHECK(r->size >= 0);
        CHECK(r->is_manifest == (m->kind == BERTH_MANIFEST_INDEX));
    }
    if (m->has_subject)
        CHECK(berth_digest_parse(m->subject, strlen(m->subject), NULL) == 0);
    if (m->annotations) {
        json_t *a = json_loads(m->annotations, JSON_REJECT_DUPLICATES, NULL);
        CHECK(json_is_object(a));
        json_decref(a);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    const char *mt = content_types[(sel & 0x7f) % 5];
    char ct[128];
    const char *ct_arg = mt;
    if (mt && (sel & 0x80)) {
        /* Clients may add parameters; they do not change the media type. */
        snprintf(ct, sizeof(ct), "%s; charset=utf-8", mt);
        ct_arg = ct;
    }
    /* A copy of exactly the body bytes, so reads past the end are caught. */
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    if (!body)
        return 0;
    memcpy(body, data + 1, len);

    struct berth_manifest m;
    if (berth_manifest_parse(body, len, ct_arg, &m) == 0) {
        check(&m, mt);
        berth_manifest_dispose(&m);
    } else {
        /* A failed parse leaves nothing to release. */
        CHECK(!m.media_type && !m.artifact_type && !m.config_media_type && !m.annotations &&
              !m.refs && m.nrefs == 0);
    }
    free(body);
    return 0;
}
