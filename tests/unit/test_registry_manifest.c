/*
 * Manifest parsing: the four manifest media types, artifacts, subjects, foreign layers, and every
 * way a body can be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "registry/manifest.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define D4 "sha256:4444444444444444444444444444444444444444444444444444444444444444"
#define EMPTY_DIGEST "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_EMPTY "application/vnd.oci.empty.v1+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_DOCKER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

#define DESC(mt, d, size) "{\"mediaType\":\"" mt "\",\"digest\":\"" d "\",\"size\":" #size "}"

/* JSON assembled from macros: kept one JSON line per source line. */
/* clang-format off */
static const char oci_manifest[] =
    "{\n"
    "  \"schemaVersion\": 2,\n"
    "  \"mediaType\": \"" BERTH_MT_OCI_MANIFEST "\",\n"
    "  \"config\": {\"mediaType\": \"" MT_CONFIG "\", \"digest\": \"" D1 "\", \"size\": 1469},\n"
    "  \"layers\": [\n"
    "    {\"mediaType\": \"" MT_LAYER "\", \"digest\": \"" D2 "\", \"size\": 3370706},\n"
    "    {\"mediaType\": \"" MT_LAYER "\", \"digest\": \"" D3 "\", \"size\": 0}\n"
    "  ]\n"
    "}\n";

static const char oci_index[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_INDEX "\",\"manifests\":["
    "{\"mediaType\":\"" BERTH_MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":528,"
    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"" BERTH_MT_OCI_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":529,"
    "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}}],"
    "\"annotations\":{\"org.opencontainers.image.ref.name\":\"1.0\"}}";

static const char docker_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_DOCKER_MANIFEST "\","
    "\"config\":" DESC(MT_DOCKER_CONFIG, D1, 7023) ","
    "\"layers\":[" DESC(MT_DOCKER_LAYER, D2, 32654) "," DESC(MT_DOCKER_LAYER, D3, 16724) "]}";

static const char docker_list[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_DOCKER_LIST "\",\"manifests\":["
    "{\"mediaType\":\"" BERTH_MT_DOCKER_MANIFEST "\",\"digest\":\"" D3 "\",\"size\":7143,"
    "\"platform\":{\"architecture\":\"ppc64le\",\"os\":\"linux\"}}]}";

static const char artifact[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_MANIFEST "\","
    "\"artifactType\":\"application/vnd.example.sbom.v1+json\","
    "\"config\":" DESC(MT_EMPTY, EMPTY_DIGEST, 2) ","
    "\"layers\":[" DESC("application/spdx+json", D4, 1234) "],"
    "\"subject\":" DESC(BERTH_MT_OCI_MANIFEST, D1, 528) ","
    "\"annotations\":{\"org.opencontainers.image.created\":\"2024-01-01T00:00:00Z\","
    "\"com.example.a\":\"x\"}}";

static const char foreign[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_DOCKER_MANIFEST "\","
    "\"config\":" DESC(MT_DOCKER_CONFIG, D1, 1000) ","
    "\"layers\":["
    "{\"mediaType\":\"" MT_DOCKER_FOREIGN "\",\"digest\":\"" D2 "\",\"size\":1000,"
    "\"urls\":[\"https://example.com/base.tar.gz\"]},"
    "" DESC(MT_DOCKER_LAYER, D3, 2000) ","
    "{\"mediaType\":\"" MT_DOCKER_FOREIGN "\",\"digest\":\"" D4 "\",\"size\":3000,"
    "\"urls\":[\"https://example.com/a\",\"https://example.com/b\"]}]}";
/* clang-format on */

static int parse_s(const char *body, const char *ct, struct berth_manifest *m)
{
    return berth_manifest_parse(body, strlen(body), ct, m);
}

static void check_ref(const struct berth_manifest *m, size_t i, const char *digest, int64_t size,
                      int is_manifest)
{
    assert_true(i < m->nrefs);
    assert_string_equal(m->refs[i].digest, digest);
    assert_int_equal(m->refs[i].size, size);
    assert_int_equal(m->refs[i].is_manifest, is_manifest);
}

static void oci_image_manifest(void **state)
{
    struct berth_manifest m;
    assert_int_equal(parse_s(oci_manifest, BERTH_MT_OCI_MANIFEST, &m), 0);
    assert_int_equal(m.kind, BERTH_MANIFEST_IMAGE);
    assert_string_equal(m.media_type, BERTH_MT_OCI_MANIFEST);
    assert_string_equal(m.config_media_type, MT_CONFIG);
    assert_null(m.artifact_type);
    assert_null(m.annotations);
    assert_false(m.has_subject);
    assert_int_equal(m.nrefs, 3);
    check_ref(&m, 0, D1, 1469, 0);
    check_ref(&m, 1, D2, 3370706, 0);
    check_ref(&m, 2, D3, 0, 0);
    berth_manifest_dispose(&m);
    assert_null(m.refs);
    assert_null(m.media_type);
    assert_int_equal(m.nrefs, 0);
    berth_manifest_dispose(&m); /* twice is harmless */
    berth_manifest_dispose(NULL);
}

static void content_type_forms(void **state)
{
    const char *cts[] = {
        NULL,
        "",
        BERTH_MT_OCI_MANIFEST,
        BERTH_MT_OCI_MANIFEST "; charset=utf-8",
        " " BERTH_MT_OCI_MANIFEST " ;charset=utf-8",
        BERTH_MT_OCI_MANIFEST ";",
    };
    for (size_t i = 0; i < sizeof(cts) / sizeof(cts[0]); i++) {
        struct berth_manifest m;
        int rc = parse_s(oci_manifest, cts[i], &m);
        if (rc != 0)
            fail_msg("Content-Type '%s': rc %d (%s)", cts[i] ? cts[i] : "(null)", rc,
                     berth_err_detail());
        assert_string_equal(m.media_type, BERTH_MT_OCI_MANIFEST);
        berth_manifest_dispose(&m);
    }
}

static void oci_image_index(void **state)
{
    struct berth_manifest m;
    assert_int_equal(parse_s(oci_index, BERTH_MT_OCI_INDEX, &m), 0);
    assert_int_equal(m.kind, BERTH_MANIFEST_INDEX);
    assert_string_equal(m.media_type, BERTH_MT_OCI_INDEX);
    assert_null(m.config_media_type);
    assert_null(m.artifact_type);
    assert_string_equal(m.annotations, "{\"org.opencontainers.image.ref.name\":\"1.0\"}");
    assert_int_equal(m.nrefs, 2);
    check_ref(&m, 0, D1, 528, 1);
    check_ref(&m, 1, D2, 529, 1);
    berth_manifest_dispose(&m);
}

static void docker_schema2(void **state)
{
    struct berth_manifest m;
    assert_int_equal(parse_s(docker_manifest, BERTH_MT_DOCKER_MANIFEST, &m), 0);
    assert_int_equal(m.kind, BERTH_MANIFEST_IMAGE);
    assert_string_equal(m.media_type, BERTH_MT_DOCKER_MANIFEST);
    assert_string_equal(m.config_media_type, MT_DOCKER_CONFIG);
    assert_int_equal(m.nrefs, 3);
    check_ref(&m, 0, D1, 7023, 0);
    check_ref(&m, 1, D2, 32654, 0);
    check_ref(&m, 2, D3, 16724, 0);
    berth_manifest_dispose(&m);
}

static void docker_manifest_list(void **state)
{
    struct berth_manifest m;
    assert_int_equal(parse_s(docker_list, NULL, &m), 0);
    assert_int_equal(m.kind, BERTH_MANIFEST_INDEX);
    assert_string_equal(m.media_type, BERTH_MT_DOCKER_LIST);
    assert_int_equal(m.nrefs, 1);
    check_ref(&m, 0, D3, 7143, 1);
    berth_manifest_dispose(&m);
}

static void artifact_with_subject(void **state)
{
    struct berth_manifest m;
    assert_int_equal(parse_s(artifact, BERTH_MT_OCI_MANIFEST, &m), 0);
    assert_int_equal(m.kind, BERTH_MANIFEST_IMAGE);
    assert_string_equal(m.artifact_type, "application/vnd.example.sbom.v1+json");
    assert_string_equal(m.config_media_type, MT_EMPTY);
    assert_true(m.has_subject);
    assert_string_equal(m.subject, D1);
    /* Compact, with sorted keys, so equal annotations are stored equally. */
    assert_string_equal(m.annotations, "{\"com.example.a\":\"x\","
                                       "\"org.opencontainers.image.created\":"
                                       "\"2024-01-01T00:00:00Z\"}");
    /* The subject is not a reference: it may be pushed after its referrers. */
    assert_int_equal(m.nrefs, 2);
    check_ref(&m, 0, EMPTY_DIGEST, 2, 0);
    check_ref(&m, 1, D4, 1234, 0);
    berth_manifest_dispose(&m);
}

static void index_with_subject_and_artifact_type(void **state)
{
    /* clang-format off */
    const char *body = "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_INDEX "\","
                       "\"artifactType\":\"application/vnd.example.bundle\","
                       "\"manifests\":[" DESC(BERTH_MT_OCI_MANIFEST, D2, 10) "],"
                       "\"subject\":" DESC(BERTH_MT_OCI_MANIFEST, D3, 20) "}";
    /* clang-format on */
    struct berth_manifest m;
    assert_int_equal(parse_s(body, NULL, &m), 0);
    assert_int_equal(m.kind, BERTH_MANIFEST_INDEX);
    assert_string_equal(m.artifact_type, "application/vnd.example.bundle");
    assert_true(m.has_subject);
    assert_string_equal(m.subject, D3);
    assert_int_equal(m.nrefs, 1);
    check_ref(&m, 0, D2, 10, 1);
    berth_manifest_dispose(&m);
}

static void foreign_layers_skipped(void **state)
{
    struct berth_manifest m;
    assert_int_equal(parse_s(foreign, BERTH_MT_DOCKER_MANIFEST, &m), 0);
    assert_int_equal(m.nrefs, 2);
    check_ref(&m, 0, D1, 1000, 0);
    check_ref(&m, 1, D3, 2000, 0);
    berth_manifest_dispose(&m);

    /* An empty urls list is not foreign. */
    /* clang-format off */
    const char *body = "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, D1, 1) ",\"layers\":["
                       "{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"" D2 "\",\"size\":5,"
                       "\"urls\":[]}]}";
    /* clang-format on */
    assert_int_equal(parse_s(body, NULL, &m), 0);
    assert_int_equal(m.nrefs, 2);
    check_ref(&m, 1, D2, 5, 0);
    berth_manifest_dispose(&m);

    /* The descriptor of a foreign layer is still validated. */
    /* clang-format off */
    body = "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, D1, 1) ",\"layers\":["
           "{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"sha256:abc\",\"size\":5,"
           "\"urls\":[\"https://example.com/x\"]}]}";
    /* clang-format on */
    assert_int_equal(parse_s(body, NULL, &m), BERTH_EINVALID);
    /* clang-format off */
    body = "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, D1, 1) ",\"layers\":["
           "{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"" D2 "\",\"size\":5,"
           "\"urls\":\"https://example.com/x\"}]}";
    /* clang-format on */
    assert_int_equal(parse_s(body, NULL, &m), BERTH_EINVALID);
}

static void repeated_layer_kept(void **state)
{
    /* References are listed as written: a layer used twice appears twice. */
    /* clang-format off */
    const char *body = "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, D1, 1) ","
                       "\"layers\":[" DESC(MT_LAYER, D2, 32) "," DESC(MT_LAYER, D2, 32) "]}";
    /* clang-format on */
    struct berth_manifest m;
    assert_int_equal(parse_s(body, NULL, &m), 0);
    assert_int_equal(m.nrefs, 3);
    check_ref(&m, 1, D2, 32, 0);
    check_ref(&m, 2, D2, 32, 0);
    berth_manifest_dispose(&m);
}

static void media_type_from_shape_or_header(void **state)
{
    struct berth_manifest m;
    /* No mediaType anywhere: the shape decides. */
    const char *img = "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, D1, 1) ",\"layers\":[]}";
    assert_int_equal(parse_s(img, NULL, &m), 0);
    assert_int_equal(m.kind, BERTH_MANIFEST_IMAGE);
    assert_string_equal(m.media_type, BERTH_MT_OCI_MANIFEST);
    assert_int_equal(m.nrefs, 1);
    berth_manifest_dispose(&m);

    const char *idx = "{\"schemaVersion\":2,\"manifests\":[]}";
    assert_int_equal(parse_s(idx, NULL, &m), 0);
    assert_int_equal(m.kind, BERTH_MANIFEST_INDEX);
    assert_string_equal(m.media_type, BERTH_MT_OCI_INDEX);
    assert_int_equal(m.nrefs, 0);
    berth_manifest_dispose(&m);

    /* No mediaType in the body: the Content-Type decides. */
    assert_int_equal(parse_s(img, BERTH_MT_DOCKER_MANIFEST "; charset=utf-8", &m), 0);
    assert_string_equal(m.media_type, BERTH_MT_DOCKER_MANIFEST);
    berth_manifest_dispose(&m);
    assert_int_equal(parse_s(idx, BERTH_MT_DOCKER_LIST, &m), 0);
    assert_int_equal(m.kind, BERTH_MANIFEST_INDEX);
    assert_string_equal(m.media_type, BERTH_MT_DOCKER_LIST);
    berth_manifest_dispose(&m);
    /* ... and an index Content-Type on a manifest-shaped body is refused. */
    assert_int_equal(parse_s(img, BERTH_MT_OCI_INDEX, &m), BERTH_EINVALID);
}

static void uses_len_not_nul(void **state)
{
    struct berth_manifest m;
    char *buf = malloc(sizeof(oci_manifest) + 8);
    assert_non_null(buf);
    memcpy(buf, oci_manifest, sizeof(oci_manifest) - 1);
    memcpy(buf + sizeof(oci_manifest) - 1, "garbage", 8);
    assert_int_equal(berth_manifest_parse(buf, sizeof(oci_manifest) - 1, NULL, &m), 0);
    assert_int_equal(m.nrefs, 3);
    berth_manifest_dispose(&m);
    assert_int_equal(berth_manifest_parse(buf, sizeof(oci_manifest) + 6, NULL, &m), BERTH_EINVALID);
    free(buf);
}

struct bad {
    const char *what;
    const char *body;
    const char *ct;
    int rc;
};

#define IMG_HEAD "{\"schemaVersion\":2,"
#define CFG "\"config\":" DESC(MT_CONFIG, D1, 1)
#define LAYERS "\"layers\":[" DESC(MT_LAYER, D2, 2) "]"
#define LAYER_WITH(fields) "{\"schemaVersion\":2," CFG ",\"layers\":[{" fields "}]}"

/* clang-format off */
static const struct bad bad_cases[] = {
    {"empty body", "", NULL, BERTH_EINVALID},
    {"not JSON", "{", NULL, BERTH_EINVALID},
    {"not JSON either", "schemaVersion: 2", NULL, BERTH_EINVALID},
    {"trailing data", IMG_HEAD CFG "," LAYERS "} {}", NULL, BERTH_EINVALID},
    {"array", "[]", NULL, BERTH_EINVALID},
    {"string", "\"manifest\"", NULL, BERTH_EINVALID},
    {"number", "2", NULL, BERTH_EINVALID},
    {"null", "null", NULL, BERTH_EINVALID},
    {"schema 1", "{\"schemaVersion\":1,\"name\":\"a\",\"tag\":\"b\",\"fsLayers\":[]}", NULL,
     BERTH_EUNSUPPORTED},
    {"schema 3", "{\"schemaVersion\":3," CFG "," LAYERS "}", NULL, BERTH_EINVALID},
    {"schema 0", "{\"schemaVersion\":0," CFG "," LAYERS "}", NULL, BERTH_EINVALID},
    {"schema missing", "{" CFG "," LAYERS "}", NULL, BERTH_EINVALID},
    {"schema string", "{\"schemaVersion\":\"2\"," CFG "," LAYERS "}", NULL, BERTH_EINVALID},
    {"schema real", "{\"schemaVersion\":2.0," CFG "," LAYERS "}", NULL, BERTH_EINVALID},
    {"content type mismatch",
     IMG_HEAD "\"mediaType\":\"" BERTH_MT_OCI_MANIFEST "\"," CFG "," LAYERS "}",
     BERTH_MT_DOCKER_MANIFEST, BERTH_EINVALID},
    {"content type mismatch, index",
     "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_INDEX "\",\"manifests\":[]}",
     BERTH_MT_OCI_MANIFEST, BERTH_EINVALID},
    {"unknown body media type", IMG_HEAD "\"mediaType\":\"" MT_CONFIG "\"," CFG "," LAYERS "}",
     NULL, BERTH_EUNSUPPORTED},
    {"unknown content type", IMG_HEAD CFG "," LAYERS "}", "application/json", BERTH_EUNSUPPORTED},
    {"schema1 content type", IMG_HEAD CFG "," LAYERS "}",
     "application/vnd.docker.distribution.manifest.v1+prettyjws", BERTH_EUNSUPPORTED},
    {"media type not a string", IMG_HEAD "\"mediaType\":5," CFG "," LAYERS "}", NULL,
     BERTH_EINVALID},
    {"missing config", IMG_HEAD LAYERS "}", NULL, BERTH_EINVALID},
    {"config not an object", IMG_HEAD "\"config\":\"" D1 "\"," LAYERS "}", NULL, BERTH_EINVALID},
    {"config null", IMG_HEAD "\"config\":null," LAYERS "}", NULL, BERTH_EINVALID},
    {"missing layers", IMG_HEAD CFG "}", NULL, BERTH_EINVALID},
    {"layers not an array", IMG_HEAD CFG ",\"layers\":" DESC(MT_LAYER, D2, 2) "}", NULL,
     BERTH_EINVALID},
    {"layers null", IMG_HEAD CFG ",\"layers\":null}", NULL, BERTH_EINVALID},
    {"layer not an object", IMG_HEAD CFG ",\"layers\":[\"" D2 "\"]}", NULL, BERTH_EINVALID},
    {"image with manifests", IMG_HEAD CFG "," LAYERS ",\"manifests\":[]}", NULL, BERTH_EINVALID},
    {"bad digest",
     LAYER_WITH("\"mediaType\":\"" MT_LAYER "\",\"digest\":\"sha256:abc\",\"size\":1"),
     NULL, BERTH_EINVALID},
    {"upper-case digest",
     LAYER_WITH("\"mediaType\":\"" MT_LAYER "\",\"digest\":"
                "\"sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
                "\"size\":1"),
     NULL, BERTH_EINVALID},
    {"sha512 digest",
     LAYER_WITH("\"mediaType\":\"" MT_LAYER "\",\"digest\":\"sha512:"
                "11111111111111111111111111111111111111111111111111111111111111111111111111"
                "111111111111111111111111111111111111111111111111111111\",\"size\":1"),
     NULL, BERTH_EINVALID},
    {"digest not a string", LAYER_WITH("\"mediaType\":\"" MT_LAYER "\",\"digest\":1,\"size\":1"),
     NULL, BERTH_EINVALID},
    {"digest missing", LAYER_WITH("\"mediaType\":\"" MT_LAYER "\",\"size\":1"), NULL,
     BERTH_EINVALID},
    {"digest with NUL",
     LAYER_WITH("\"mediaType\":\"" MT_LAYER "\",\"digest\":\"sha256:\\u0000"
                "111111111111111111111111111111111111111111111111111111111111111\",\"size\":1"),
     NULL, BERTH_EINVALID},
    {"negative size",
     LAYER_WITH("\"mediaType\":\"" MT_LAYER "\",\"digest\":\"" D2 "\",\"size\":-1"),
     NULL, BERTH_EINVALID},
    {"size string",
     LAYER_WITH("\"mediaType\":\"" MT_LAYER "\",\"digest\":\"" D2 "\",\"size\":\"1\""),
     NULL, BERTH_EINVALID},
    {"size real", LAYER_WITH("\"mediaType\":\"" MT_LAYER "\",\"digest\":\"" D2 "\",\"size\":1.5"),
     NULL, BERTH_EINVALID},
    {"size missing", LAYER_WITH("\"mediaType\":\"" MT_LAYER "\",\"digest\":\"" D2 "\""), NULL,
     BERTH_EINVALID},
    {"size too big for int64",
     LAYER_WITH("\"mediaType\":\"" MT_LAYER "\",\"digest\":\"" D2 "\","
                "\"size\":99999999999999999999"),
     NULL, BERTH_EINVALID},
    {"media type empty", LAYER_WITH("\"mediaType\":\"\",\"digest\":\"" D2 "\",\"size\":1"), NULL,
     BERTH_EINVALID},
    {"media type missing", LAYER_WITH("\"digest\":\"" D2 "\",\"size\":1"), NULL, BERTH_EINVALID},
    {"media type number", LAYER_WITH("\"mediaType\":1,\"digest\":\"" D2 "\",\"size\":1"), NULL,
     BERTH_EINVALID},
    {"descriptor artifactType number",
     LAYER_WITH("\"mediaType\":\"" MT_LAYER "\",\"digest\":\"" D2 "\",\"size\":1,"
                "\"artifactType\":1"),
     NULL, BERTH_EINVALID},
    {"descriptor annotations array",
     LAYER_WITH("\"mediaType\":\"" MT_LAYER "\",\"digest\":\"" D2 "\",\"size\":1,"
                "\"annotations\":[]"),
     NULL, BERTH_EINVALID},
    {"config bad digest",
     IMG_HEAD "\"config\":{\"mediaType\":\"" MT_CONFIG "\",\"digest\":\"md5:x\",\"size\":1},"
     LAYERS "}",
     NULL, BERTH_EINVALID},
    {"duplicate top-level key", "{\"schemaVersion\":2,\"schemaVersion\":2," CFG "," LAYERS "}",
     NULL, BERTH_EINVALID},
    {"duplicate layers key", IMG_HEAD CFG "," LAYERS "," LAYERS "}", NULL, BERTH_EINVALID},
    {"duplicate descriptor key",
     LAYER_WITH("\"mediaType\":\"" MT_LAYER "\",\"digest\":\"" D2 "\",\"digest\":\"" D3
                "\",\"size\":1"),
     NULL, BERTH_EINVALID},
    {"duplicate annotation key",
     IMG_HEAD CFG "," LAYERS ",\"annotations\":{\"a\":\"1\",\"a\":\"2\"}}", NULL, BERTH_EINVALID},
    {"annotations array", IMG_HEAD CFG "," LAYERS ",\"annotations\":[]}", NULL, BERTH_EINVALID},
    {"annotation value number", IMG_HEAD CFG "," LAYERS ",\"annotations\":{\"a\":1}}", NULL,
     BERTH_EINVALID},
    {"artifactType number", IMG_HEAD "\"artifactType\":7," CFG "," LAYERS "}", NULL,
     BERTH_EINVALID},
    {"subject not an object", IMG_HEAD CFG "," LAYERS ",\"subject\":\"" D1 "\"}", NULL,
     BERTH_EINVALID},
    {"subject bad digest",
     IMG_HEAD CFG "," LAYERS ",\"subject\":" DESC(BERTH_MT_OCI_MANIFEST, "sha256:1", 1) "}", NULL,
     BERTH_EINVALID},
    {"index with layers",
     "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_INDEX "\",\"manifests\":[]," LAYERS "}",
     NULL, BERTH_EINVALID},
    {"index with config",
     "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_INDEX "\",\"manifests\":[]," CFG "}",
     NULL, BERTH_EINVALID},
    {"list with layers",
     "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_DOCKER_LIST "\",\"manifests\":[]," LAYERS
     "}",
     NULL, BERTH_EINVALID},
    {"index without manifests", "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_INDEX "\"}",
     NULL, BERTH_EINVALID},
    {"index manifests object",
     "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_INDEX "\",\"manifests\":{}}", NULL,
     BERTH_EINVALID},
    {"index entry bad digest",
     "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_INDEX "\",\"manifests\":["
     DESC(BERTH_MT_OCI_MANIFEST, D1, 1) "," DESC(BERTH_MT_OCI_MANIFEST, "sha256:zz", 1) "]}",
     NULL, BERTH_EINVALID},
    {"index entry negative size",
     "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_INDEX "\",\"manifests\":["
     DESC(BERTH_MT_OCI_MANIFEST, D1, -5) "]}",
     NULL, BERTH_EINVALID},
};
/* clang-format on */

static void refused(void **state)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad *c = &bad_cases[i];
        struct berth_manifest m;
        memset(&m, 0x5a, sizeof(m));
        berth_err_clear();
        int rc = parse_s(c->body, c->ct, &m);
        if (rc != c->rc)
            fail_msg("%s: rc %d (%s), want %d", c->what, rc, berth_err_detail(), c->rc);
        if (berth_err_what() != BERTH_WHAT_MANIFEST)
            fail_msg("%s: error is not about the manifest", c->what);
        if (!berth_err_detail() || !*berth_err_detail())
            fail_msg("%s: no detail message", c->what);
        /* Nothing is left for the caller to free after an error. */
        if (m.media_type || m.artifact_type || m.config_media_type || m.annotations || m.refs ||
            m.nrefs)
            fail_msg("%s: the output is not cleared after the error", c->what);
    }
}

static void media_type_known(void **state)
{
    assert_true(berth_manifest_media_type_known(BERTH_MT_OCI_MANIFEST));
    assert_true(berth_manifest_media_type_known(BERTH_MT_OCI_INDEX));
    assert_true(berth_manifest_media_type_known(BERTH_MT_DOCKER_MANIFEST));
    assert_true(berth_manifest_media_type_known(BERTH_MT_DOCKER_LIST));
    assert_false(berth_manifest_media_type_known(NULL));
    assert_false(berth_manifest_media_type_known(""));
    assert_false(berth_manifest_media_type_known(MT_CONFIG));
    assert_false(berth_manifest_media_type_known(BERTH_MT_OCI_MANIFEST "; charset=utf-8"));
}

static void many_layers(void **state)
{
    /* 1000 layers: every one becomes a reference, in order. */
    size_t cap = 200 * 1024;
    char *body = malloc(cap);
    assert_non_null(body);
    size_t n = (size_t)snprintf(body, cap, "{\"schemaVersion\":2,%s,\"layers\":[", CFG);
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(body + n, cap - n,
                              "%s{\"mediaType\":\"%s\",\"digest\":\"sha256:%064x\",\"size\":%d}",
                              i ? "," : "", MT_LAYER, i, i);
    n += (size_t)snprintf(body + n, cap - n, "]}");
    assert_true(n < cap);
    struct berth_manifest m;
    assert_int_equal(berth_manifest_parse(body, n, NULL, &m), 0);
    assert_int_equal(m.nrefs, 1001);
    char want[BERTH_DIGEST_BUF];
    snprintf(want, sizeof(want), "sha256:%064x", 999);
    check_ref(&m, 1000, want, 999, 0);
    snprintf(want, sizeof(want), "sha256:%064x", 0);
    check_ref(&m, 1, want, 0, 0);
    berth_manifest_dispose(&m);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(oci_image_manifest),
        cmocka_unit_test(content_type_forms),
        cmocka_unit_test(oci_image_index),
        cmocka_unit_test(docker_schema2),
        cmocka_unit_test(docker_manifest_list),
        cmocka_unit_test(artifact_with_subject),
        cmocka_unit_test(index_with_subject_and_artifact_type),
        cmocka_unit_test(foreign_layers_skipped),
        cmocka_unit_test(repeated_layer_kept),
        cmocka_unit_test(media_type_from_shape_or_header),
        cmocka_unit_test(uses_len_not_nul),
        cmocka_unit_test(refused),
        cmocka_unit_test(media_type_known),
        cmocka_unit_test(many_layers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
