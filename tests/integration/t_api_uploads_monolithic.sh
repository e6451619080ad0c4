#!/usr/bin/env bash
# end-4b and end-4a+end-6: a blob pushed in one POST ?digest=, and a POST followed by one PUT with
# the whole body; a PUT without ?digest= is 400 DIGEST_INVALID and stores nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
start_berth
OCT=(-H 'Content-Type: application/octet-stream')

# single POST
gen_bytes "$T/one" 5000 1
d1=$(sha256_of "$T/one")
req POST "/v2/lib/mono/blobs/uploads/?digest=$d1" "${OCT[@]}" --data-binary @"$T/one"
expect_status 201 "monolithic POST"
want_hdr Location "/v2/lib/mono/blobs/$d1" "monolithic POST"
want_hdr Docker-Content-Digest "$d1" "monolithic POST"
want_blob lib/mono "$d1" "$T/one"
ok "POST ?digest= -> 201, Location /v2/lib/mono/blobs/<digest>, Docker-Content-Digest"

# the same content again is fine and changes nothing
req POST "/v2/lib/mono/blobs/uploads/?digest=$d1" "${OCT[@]}" --data-binary @"$T/one"
expect_status 201 "monolithic POST of content already stored"
want_blob lib/mono "$d1" "$T/one"
ok "pushing the same blob twice is 201 both times"

# an empty blob
: >"$T/empty"
de=$(sha256_of "$T/empty")
req POST "/v2/lib/mono/blobs/uploads/?digest=$de" "${OCT[@]}" -H 'Content-Length: 0'
expect_status 201 "monolithic POST of an empty blob"
want_blob lib/mono "$de" "$T/empty"
ok "an empty blob can be pushed and pulled"

# POST then PUT
gen_bytes "$T/two" 70000 2
d2=$(sha256_of "$T/two")
loc=$(start_upload lib/mono)
req POST "/v2/lib/mono/blobs/uploads/" -H 'Content-Length: 0'
expect_status 202 "POST without digest"
case "$(loc_path)" in /v2/lib/mono/blobs/uploads/?*) ;; *) fail "POST: Location $(loc_path)" ;; esac
req DELETE "$(loc_path)"
expect_status 204 "cancel the extra session"
req PUT "$(with_query "$loc" "digest=$d2")" "${OCT[@]}" --data-binary @"$T/two"
expect_status 201 "PUT with the whole body"
want_hdr Location "/v2/lib/mono/blobs/$d2" "PUT with the whole body"
want_hdr Docker-Content-Digest "$d2" "PUT with the whole body"
want_blob lib/mono "$d2" "$T/two"
req GET "$loc"
want_error 404 BLOB_UPLOAD_UNKNOWN "the session after it completed"
ok "POST then PUT with the whole body -> 202 then 201; the session is closed"

# PUT without ?digest= is refused and stores nothing. (The spec only says the upload is then not
# complete; whether the session survives the 400 is the registry's choice.)
gen_bytes "$T/three" 300 3
d3=$(sha256_of "$T/three")
loc=$(start_upload lib/mono)
req PUT "$loc" "${OCT[@]}" --data-binary @"$T/three"
want_error 400 DIGEST_INVALID "PUT without ?digest="
want_no_blob lib/mono "$d3"
req GET "$loc"
if [ "$STATUS" = 204 ]; then
    want_hdr Range 0-0 "session offset after the refused PUT"
    req PUT "$(with_query "$loc" "digest=")" "${OCT[@]}" --data-binary @"$T/three"
    want_error 400 DIGEST_INVALID "PUT with an empty ?digest="
    want_no_blob lib/mono "$d3"
    req GET "$loc"
fi
if [ "$STATUS" = 204 ]; then
    want_hdr Range 0-0 "session offset after the refused PUTs"
    req DELETE "$loc"
    expect_status 204 "cancel the session"
else
    want_error 404 BLOB_UPLOAD_UNKNOWN "session after the refused PUT"
fi
ok "PUT without ?digest= -> 400 DIGEST_INVALID; nothing stored, the offset did not move"

finish
