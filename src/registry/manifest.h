/*
 * manifest — parsing and validating image manifests and indexes (OCI and Docker schema 2).
 *
 * The parser is pure: it turns bytes plus the request's Content-Type into the facts the
 * registry stores (kind, media types, subject, annotations) and the list of references that
 * must exist before the manifest may be stored. It does not look anything up. Layer and
 * artifact media types are never judged: Berth stores any artifact.
 */
#ifndef BERTH_REGISTRY_MANIFEST_H
#define BERTH_REGISTRY_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/digest.h"

#define BERTH_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define BERTH_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define BERTH_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define BERTH_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

enum berth_manifest_kind { BERTH_MANIFEST_IMAGE = 1, BERTH_MANIFEST_INDEX = 2 };

struct berth_manifest_ref {
    char digest[BERTH_DIGEST_BUF];
    int64_t size;
    int is_manifest; /* index entry: a child manifest, not a blob */
};

struct berth_manifest {
    enum berth_manifest_kind kind;
    char *media_type;        /* effective media type (body's, else Content-Type's) */
    char *artifact_type;     /* artifactType, or NULL */
    char *config_media_type; /* image manifests: config.mediaType; NULL for indexes */
    char *annotations;       /* compact JSON object, or NULL */
    int has_subject;
    char subject[BERTH_DIGEST_BUF];
    size_t nrefs;
    struct berth_manifest_ref *refs; /* config, then layers; or the index's manifests */
};

/* Parses and validates body[0..len). content_type may be NULL or carry parameters.
 * Errors: BERTH_EINVALID (shape, schemaVersion, mediaType mismatch, bad descriptor) and
 * BERTH_EUNSUPPORTED (schema 1, unknown manifest media type); the detail says which field. */
int berth_manifest_parse(const char *body, size_t len, const char *content_type,
                         struct berth_manifest *out);
void berth_manifest_dispose(struct berth_manifest *m);

/* Is this one of the four manifest media types Berth can parse? */
int berth_manifest_media_type_known(const char *mt);

#endif
