#!/usr/bin/env bash
# end-2/end-10: GET and HEAD of blobs with their headers, single Range requests (prefix, suffix,
# open-ended, unsatisfiable), the per-repository access boundary, DELETE, the refusal to delete a
# blob a manifest still needs, and a 20 MiB blob that round-trips byte-identical.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
start_berth

gen_bytes "$T/small" 1000 1
small=$(push_blob lib/a "$T/small")
SIZE=1000

# GET and HEAD
want_blob lib/a "$small" "$T/small"
req GET "/v2/lib/a/blobs/$small"
want_hdr Content-Type application/octet-stream "GET blob"
ok "GET/HEAD blob: 200, Content-Length, Docker-Content-Digest, identical body"

# ranges
req GET "/v2/lib/a/blobs/$small" -H 'Range: bytes=0-4'
expect_status 206 "Range bytes=0-4"
want_hdr Content-Range "bytes 0-4/$SIZE" "Range bytes=0-4"
want_hdr Content-Length 5 "Range bytes=0-4"
cmp -s "$BODY" <(head -c 5 "$T/small") || fail "Range bytes=0-4: wrong bytes"
ok "Range bytes=0-4 -> 206, Content-Range bytes 0-4/$SIZE"

req GET "/v2/lib/a/blobs/$small" -H 'Range: bytes=100-199'
expect_status 206 "Range bytes=100-199"
want_hdr Content-Range "bytes 100-199/$SIZE" "Range bytes=100-199"
cmp -s "$BODY" <(tail -c +101 "$T/small" | head -c 100) || fail "Range bytes=100-199: wrong bytes"

req GET "/v2/lib/a/blobs/$small" -H 'Range: bytes=-10'
expect_status 206 "suffix Range bytes=-10"
want_hdr Content-Range "bytes 990-999/$SIZE" "suffix Range bytes=-10"
cmp -s "$BODY" <(tail -c 10 "$T/small") || fail "suffix range: wrong bytes"

req GET "/v2/lib/a/blobs/$small" -H 'Range: bytes=-5000'
expect_status 206 "suffix Range longer than the blob"
want_hdr Content-Range "bytes 0-999/$SIZE" "suffix Range longer than the blob"
cmp -s "$BODY" "$T/small" || fail "suffix range longer than the blob: wrong bytes"

req GET "/v2/lib/a/blobs/$small" -H 'Range: bytes=990-'
expect_status 206 "open-ended Range bytes=990-"
want_hdr Content-Range "bytes 990-999/$SIZE" "open-ended Range"
cmp -s "$BODY" <(tail -c 10 "$T/small") || fail "open-ended range: wrong bytes"

req GET "/v2/lib/a/blobs/$small" -H 'Range: bytes=995-5000'
expect_status 206 "Range past the end"
want_hdr Content-Range "bytes 995-999/$SIZE" "Range past the end"
ok "suffix, open-ended and over-long ranges"

for r in "bytes=$SIZE-" "bytes=5000-6000" "bytes=-0"; do
    req GET "/v2/lib/a/blobs/$small" -H "Range: $r"
    expect_status 416 "unsatisfiable Range $r"
    want_hdr Content-Range "bytes */$SIZE" "unsatisfiable Range $r"
done
ok "unsatisfiable ranges -> 416 with Content-Range bytes */$SIZE"

# unknown blobs
unknown=sha256:$(printf 'not stored' | sha256sum | cut -d' ' -f1)
want_no_blob lib/a "$unknown"
ok "unknown blob -> 404 BLOB_UNKNOWN"

# access boundary: the bytes exist, but only lib/a has the blob
gen_bytes "$T/other" 10 2
push_blob lib/b "$T/other" >/dev/null
want_no_blob lib/b "$small"
want_no_blob lib/never "$small" NAME_UNKNOWN
req DELETE "/v2/lib/b/blobs/$small"
want_error 404 BLOB_UNKNOWN "DELETE in a repository without the blob"
want_blob lib/a "$small" "$T/small"
ok "a blob of lib/a is 404 in lib/b and in an unknown repository"

# DELETE
req DELETE "/v2/lib/a/blobs/$small"
expect_status 202 "DELETE blob"
want_no_blob lib/a "$small"
req DELETE "/v2/lib/a/blobs/$small"
want_error 404 BLOB_UNKNOWN "DELETE blob twice"
ok "DELETE blob -> 202, then 404"

# a blob referenced by a manifest cannot be deleted
gen_text "$T/config" '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
gen_bytes "$T/layer" 3000 3
cfg=$(push_blob lib/img "$T/config")
layer=$(push_blob lib/img "$T/layer")
mk_image "$T/m.json" "$MT_OCI_MANIFEST" "$(desc "$MT_OCI_CONFIG" "$T/config")" \
    "$(desc "$MT_OCI_LAYER" "$T/layer")"
m=$(put_manifest lib/img v1 "$T/m.json" "$MT_OCI_MANIFEST")
for d in "$layer" "$cfg"; do
    req DELETE "/v2/lib/img/blobs/$d"
    expect_status 409 "DELETE of blob $d that manifest $m references"
done
want_blob lib/img "$layer" "$T/layer"
want_blob lib/img "$cfg" "$T/config"
want_manifest lib/img v1 "$T/m.json" "$MT_OCI_MANIFEST"
ok "DELETE of a referenced blob -> 409 and the image stays pullable"

# once the manifest is gone the blob may go
req DELETE "/v2/lib/img/manifests/$m"
expect_status 202 "DELETE manifest"
req DELETE "/v2/lib/img/blobs/$layer"
expect_status 202 "DELETE blob after its manifest"
want_no_blob lib/img "$layer"
ok "the blob can be deleted once no manifest references it"

# bad digests in the path
for d in sha256:abc sha256:ZZZ0000000000000000000000000000000000000000000000000000000000000 \
    notadigest "sha256:${small#sha256:}0"; do
    req GET "/v2/lib/a/blobs/$d"
    [ "$STATUS" = 400 ] || [ "$STATUS" = 404 ] || fail "GET blob $d: status $STATUS, want 400 or 404"
done
ok "malformed digests in the blob path are refused"

# 20 MiB
gen_bytes "$T/big" $((20 * 1024 * 1024)) 20
big=$(push_blob lib/big "$T/big")
want_blob lib/big "$big" "$T/big"
req GET "/v2/lib/big/blobs/$big" -H "Range: bytes=$((10 * 1024 * 1024))-"
expect_status 206 "range of the 20 MiB blob"
cmp -s "$BODY" <(tail -c $((10 * 1024 * 1024)) "$T/big") || fail "second half of the 20 MiB blob differs"
ok "a 20 MiB random blob round-trips byte-identical"

finish
