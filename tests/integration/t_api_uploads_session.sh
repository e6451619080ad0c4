#!/usr/bin/env bash
# end-13 and cancel: DELETE of an upload session (204, then 404 BLOB_UPLOAD_UNKNOWN everywhere
# and its bytes gone), an upload id used under another repository (404 BLOB_UPLOAD_UNKNOWN, the
# session untouched), and ids that never existed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
start_berth
OCT=(-H 'Content-Type: application/octet-stream')

gen_bytes "$T/blob" 4000 1
D=$(sha256_of "$T/blob")
head -c 1000 "$T/blob" >"$T/c1" || true
[ "$(fsize "$T/c1")" = 1000 ] || fail "test setup: first chunk"

# every_verb_unknown PATH WHAT: GET, PATCH, PUT and DELETE on an upload PATH are 404
# BLOB_UPLOAD_UNKNOWN
every_verb_unknown() {
    req GET "$1"
    want_error 404 BLOB_UPLOAD_UNKNOWN "GET $2"
    req PATCH "$1" "${OCT[@]}" -H 'Content-Range: 1000-1999' --data-binary @"$T/c1"
    want_error 404 BLOB_UPLOAD_UNKNOWN "PATCH $2"
    req PATCH "$1" "${OCT[@]}" --data-binary @"$T/c1"
    want_error 404 BLOB_UPLOAD_UNKNOWN "streamed PATCH $2"
    req PUT "$(with_query "$1" "digest=$D")" "${OCT[@]}" --data-binary @"$T/blob"
    want_error 404 BLOB_UPLOAD_UNKNOWN "PUT $2"
    req DELETE "$1"
    want_error 404 BLOB_UPLOAD_UNKNOWN "DELETE $2"
}

# --- cancel
loc=$(start_upload lib/a)
req PATCH "$loc" "${OCT[@]}" -H 'Content-Range: 0-999' --data-binary @"$T/c1"
expect_status 202 "first chunk"
expect_eq "$(upload_files)" 1 "upload files while a session is open"
req DELETE "$loc"
expect_status 204 "DELETE upload"
every_verb_unknown "$loc" "a cancelled upload"
want_no_blob lib/a "$D"
expect_eq "$(upload_files)" 0 "upload files after the cancel"
ok "DELETE upload -> 204; afterwards every verb -> 404 BLOB_UPLOAD_UNKNOWN; its bytes are gone"

# --- a session of lib/a used under lib/b (which exists) and under a repository that does not
gen_text "$T/x" x
push_blob lib/b "$T/x" >/dev/null
loc=$(start_upload lib/a)
req PATCH "$loc" "${OCT[@]}" -H 'Content-Range: 0-999' --data-binary @"$T/c1"
expect_status 202 "first chunk in lib/a"
id=${loc##*/}
every_verb_unknown "/v2/lib/b/blobs/uploads/$id" "lib/a's upload under lib/b"
every_verb_unknown "/v2/lib/nothere/blobs/uploads/$id" "lib/a's upload under an unknown repository"
want_no_blob lib/b "$D"
expect_eq "$(upload_range "$loc")" 0-999 "lib/a's session after the attempts from elsewhere"
tail -c +1001 "$T/blob" >"$T/rest"
req PUT "$(with_query "$loc" "digest=$D")" "${OCT[@]}" -H 'Content-Range: 1000-3999' \
    --data-binary @"$T/rest"
expect_status 201 "finish lib/a's upload"
want_blob lib/a "$D" "$T/blob"
want_no_blob lib/b "$D"
ok "an upload id under another repository -> 404 BLOB_UPLOAD_UNKNOWN; the session is untouched"

# --- ids that never existed
for id in 0123456789abcdef0123456789abcdef 0123456789ABCDEF0123456789ABCDEF \
    "not-an-id" "$(printf 'a%.0s' $(seq 1 300))"; do
    every_verb_unknown "/v2/lib/a/blobs/uploads/$id" "unknown upload id ${id:0:40}"
done
# an id that decodes to a path: no route matches, so 404 whatever the error code
for id in ..%2F..%2Fmeta.db ..%2Fuploads %2e%2e; do
    for m in GET DELETE; do
        req "$m" "/v2/lib/a/blobs/uploads/$id"
        expect_status 404 "$m upload id $id"
    done
done
ok "unknown upload ids -> 404 BLOB_UPLOAD_UNKNOWN for every verb"

finish
