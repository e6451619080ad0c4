/*
 * range — the two byte-range headers of the registry API.
 *
 * Content-Range on PATCH names the chunk being uploaded ("<start>-<end>", inclusive; clients
 * also send "bytes <start>-<end>" and "bytes=<start>-<end>"). Range on blob GET is RFC 9110's
 * single byte range; multipart ranges are not supported and fall back to the full body.
 */
#ifndef BERTH_CORE_RANGE_H
#define BERTH_CORE_RANGE_H

#include <stdint.h>

/* 0 with *start <= *end on success; BERTH_EINVALID for anything malformed. */
int berth_content_range_parse(const char *s, uint64_t *start, uint64_t *end);

/* Resolves a Range header against a blob of `size` bytes into an inclusive [start, end].
 * BERTH_EINVALID: malformed or unsupported (serve the whole blob);
 * BERTH_ERANGE: well-formed but unsatisfiable (416). */
int berth_range_parse(const char *s, uint64_t size, uint64_t *start, uint64_t *end);

#endif
