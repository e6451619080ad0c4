#!/usr/bin/env bash
# Hostile uploads: wrong, unsupported and malformed digests (400 DIGEST_INVALID, nothing stored,
# no session left), junk Content-Range (416, the session keeps its offset and stays usable),
# Content-Length that disagrees with Content-Range (400 SIZE_INVALID) and bodies longer or
# shorter than their Content-Range.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
start_berth
R=lib/up
OCT=(-H 'Content-Type: application/octet-stream')

gen_bytes "$T/blob" 4096 1
D=$(sha256_of "$T/blob")
HEX=${D#sha256:}
gen_bytes "$T/other" 4096 2
OTHER=$(sha256_of "$T/other")
head -c 1000 "$T/blob" >"$T/c1" || true
tail -c +1001 "$T/blob" >"$T/rest"
[ "$(fsize "$T/c1")" = 1000 ] && [ "$(fsize "$T/rest")" = 3096 ] || fail "test setup: chunks"
alive "before anything"

# nothing_stored WHAT: neither the real content nor the claimed digest is a blob; no session
nothing_stored() {
    want_no_blob $R "$D"
    want_no_blob $R "$OTHER"
    blob_stored "$D" && fail "$1: the bytes were stored as a blob"
    blob_stored "$OTHER" && fail "$1: something was stored under the claimed digest"
    expect_eq "$(upload_files)" 0 "$1: upload sessions left on disk"
}

# --- wrong digest on a monolithic POST
push_blob $R "$T/c1" >/dev/null # the repository exists
req POST "/v2/$R/blobs/uploads/?digest=$OTHER" "${OCT[@]}" --data-binary @"$T/blob"
want_error 400 DIGEST_INVALID "monolithic POST with the wrong digest"
nothing_stored "monolithic POST with the wrong digest"
ok "wrong digest on a monolithic POST -> 400 DIGEST_INVALID; blob not retrievable; session gone"

# --- unsupported and malformed digests, on a monolithic POST and on the closing PUT
SHA512="sha512:$(sha512sum "$T/blob" | cut -d' ' -f1)"
BAD_DIGESTS=(
    "$SHA512" "blake3:abc" "md5:$(md5sum "$T/blob" | cut -d' ' -f1)"
    "sha256:xyz" "sha256:" "sha256" ":$HEX" "$HEX" "SHA256:$HEX" "sha256:${HEX^^}"
    "sha256:${HEX:1}" "sha256:${HEX}0" "sha256:${HEX:0:63}g" "sha256:$HEX%20"
    "sha256:../../$HEX" "sha256%3A$HEX%2F.." ""
    "$(printf 'a%.0s' $(seq 1 300)):$HEX"
)
for d in "${BAD_DIGESTS[@]}"; do
    req POST "/v2/$R/blobs/uploads/?digest=$d" "${OCT[@]}" --data-binary @"$T/blob"
    want_error 400 DIGEST_INVALID "monolithic POST with digest '${d:0:80}'"
done
nothing_stored "monolithic POSTs with bad digests"
ok "${#BAD_DIGESTS[@]} unsupported (sha512, blake3, md5) or malformed digests on POST -> 400 DIGEST_INVALID"

for d in "$SHA512" "blake3:abc" "sha256:xyz" "sha256:${HEX^^}" "$OTHER"; do
    loc=$(start_upload $R)
    req PUT "$(with_query "$loc" "digest=$d")" "${OCT[@]}" --data-binary @"$T/blob"
    want_error 400 DIGEST_INVALID "closing PUT with digest '${d:0:80}'"
    req GET "$loc"
    if [ "$STATUS" = 204 ]; then
        req DELETE "$loc"
        expect_status 204 "cancel after the refused PUT"
    else
        want_error 404 BLOB_UPLOAD_UNKNOWN "session after the refused PUT"
    fi
done
nothing_stored "closing PUTs with bad digests"
ok "unsupported or wrong digests on the closing PUT -> 400 DIGEST_INVALID; nothing stored"

# --- junk Content-Range: 416, the offset stays, the session stays usable
loc=$(start_upload $R)
req PATCH "$loc" "${OCT[@]}" -H 'Content-Range: 0-999' --data-binary @"$T/c1"
expect_status 202 "first chunk"
loc=$(loc_path)
JUNK=(abc 5-2 bytes=x 1000-999 -5 1000- -1000-1999 "1000 - 1999" 1000-1999x x1000-1999 0x3e8-1999
    "1000-1999, 2000-2999" 99999999999999999999-99999999999999999999 1000-99999999999999999999
    "bytes */4096" "$(printf '1%.0s' $(seq 1 2000))-1")
for cr in "${JUNK[@]}"; do
    req PATCH "$loc" "${OCT[@]}" -H "Content-Range: $cr" --data-binary @"$T/rest"
    expect_status 416 "Content-Range '${cr:0:60}'"
    expect_eq "$(upload_range "$loc")" 0-999 "offset after Content-Range '${cr:0:60}'"
done
ok "${#JUNK[@]} junk Content-Range values -> 416; the offset does not move"

# --- Content-Length that disagrees with Content-Range: 400 SIZE_INVALID, nothing appended.
# (After a 4xx other than 416 the spec lets the registry drop the session; if it keeps it, the
# offset must not have moved.)
# offset_kept WHAT: the session is at 0-999 or gone
offset_kept() {
    req GET "$loc"
    if [ "$STATUS" = 204 ]; then
        want_hdr Range 0-999 "$1: offset"
    else
        want_error 404 BLOB_UPLOAD_UNKNOWN "$1: session"
        fresh_session
    fi
}
# fresh_session: a new session at 0-999 in $loc
fresh_session() {
    loc=$(start_upload $R)
    req PATCH "$loc" "${OCT[@]}" -H 'Content-Range: 0-999' --data-binary @"$T/c1"
    expect_status 202 "first chunk of a fresh session"
    loc=$(loc_path)
}
for cr in 1000-1999 1000-4094 1000-4096 1000-1000; do
    req PATCH "$loc" "${OCT[@]}" -H "Content-Range: $cr" --data-binary @"$T/rest" # 3096 bytes
    want_error 400 SIZE_INVALID "Content-Range $cr with a 3096-byte Content-Length"
    offset_kept "Content-Range $cr with Content-Length 3096"
done
ok "a chunk whose Content-Length does not match its Content-Range -> 400 SIZE_INVALID"

# --- bodies longer or shorter than the Content-Range, without Content-Length (chunked coding)
req PATCH "$loc" "${OCT[@]}" -H 'Transfer-Encoding: chunked' -H 'Content-Range: 1000-1999' \
    --data-binary @"$T/rest"
want_error 400 SIZE_INVALID "3096 bytes sent for Content-Range 1000-1999"
offset_kept "over-long body"
req PATCH "$loc" "${OCT[@]}" -H 'Transfer-Encoding: chunked' -H 'Content-Range: 1000-9999' \
    --data-binary @"$T/rest"
want_error 400 SIZE_INVALID "3096 bytes sent for Content-Range 1000-9999"
offset_kept "short body"
req PUT "$(with_query "$loc" "digest=$D")" "${OCT[@]}" -H 'Transfer-Encoding: chunked' \
    -H 'Content-Range: 1000-2000' --data-binary @"$T/rest"
want_error 400 SIZE_INVALID "closing PUT: 3096 bytes sent for Content-Range 1000-2000"
want_no_blob $R "$D"
offset_kept "over-long closing PUT"
ok "bodies longer or shorter than their Content-Range -> 400 SIZE_INVALID; nothing appended"

# the session (or its replacement) still completes with the right bytes
req PUT "$(with_query "$loc" "digest=$D")" "${OCT[@]}" -H 'Content-Range: 1000-4095' \
    --data-binary @"$T/rest"
expect_status 201 "completing the session after the refused chunks"
want_blob $R "$D" "$T/blob"
ok "after all that the upload completes byte-identical"

# --- a wrong digest on the closing PUT of a chunked upload stores nothing
R=lib/up2
loc=$(start_upload $R)
req PATCH "$loc" "${OCT[@]}" -H 'Content-Range: 0-999' --data-binary @"$T/c1"
expect_status 202 "first chunk"
loc=$(loc_path)
req PUT "$(with_query "$loc" "digest=$OTHER")" "${OCT[@]}" -H 'Content-Range: 1000-4095' \
    --data-binary @"$T/rest"
want_error 400 DIGEST_INVALID "closing PUT with the wrong digest"
want_no_blob $R "$D"
want_no_blob $R "$OTHER"
blob_stored "$OTHER" && fail "something was stored under the claimed digest"
req GET "$loc"
[ "$STATUS" = 404 ] || { req DELETE "$loc"; expect_status 204 "cancel"; }
ok "wrong digest on the closing PUT -> 400 DIGEST_INVALID; nothing stored"

finish
