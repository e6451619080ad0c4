#!/usr/bin/env bash
# end-5/end-6/end-13: chunked uploads with Content-Range (Range/Location/Docker-Upload-UUID on
# every answer), the final chunk in the closing PUT, an out-of-order chunk (416 with the current
# Range; the session stays usable), streamed PATCHes without Content-Range, and the status GET.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
start_berth
OCT=(-H 'Content-Type: application/octet-stream')
R=lib/chunked

gen_bytes "$T/blob" 200000 7
D=$(sha256_of "$T/blob")
# part FILE START END: bytes START..END (inclusive) of the blob
part() {
    dd if="$T/blob" of="$1" bs=64K iflag=skip_bytes,count_bytes skip="$2" count="$(($3 - $2 + 1))" \
        status=none
}
part "$T/c1" 0 65535
part "$T/c2" 65536 131071
part "$T/c3" 131072 199999

# patch LOC FILE RANGE: a chunk with Content-Range (RANGE empty: without Content-Range)
patch() {
    local cr=()
    [ -z "$3" ] || cr=(-H "Content-Range: $3")
    req PATCH "$1" "${OCT[@]}" "${cr[@]}" --data-binary @"$2"
}

# want_session_hdrs WHAT RANGE: Location, Range and the session id headers of an upload answer
want_session_hdrs() {
    want_hdr Range "$2" "$1"
    local l id
    l=$(loc_path)
    case "$l" in /v2/$R/blobs/uploads/?*) ;; *) fail "$1: Location '$l'" ;; esac
    id=$(hget Docker-Upload-UUID)
    [ -n "$id" ] || fail "$1: no Docker-Upload-UUID"
    case "$l" in *"$id"*) ;; *) fail "$1: Location $l does not carry the upload id $id" ;; esac
}

# --- all chunks by PATCH, then PUT with an empty body
loc=$(start_upload $R)
req GET "$loc"
expect_status 204 "status of a new session"
want_session_hdrs "status of a new session" 0-0

patch "$loc" "$T/c1" 0-65535
expect_status 202 "first chunk"
want_session_hdrs "first chunk" 0-65535
loc=$(loc_path)
req GET "$loc"
expect_status 204 "status after the first chunk"
want_session_hdrs "status after the first chunk" 0-65535

patch "$loc" "$T/c2" 65536-131071
expect_status 202 "second chunk"
want_session_hdrs "second chunk" 0-131071
loc=$(loc_path)
ok "PATCH chunks with Content-Range -> 202 with Range 0-<offset-1>, Location, Docker-Upload-UUID"

# out of order: a gap, a repeat, an overlap, a restart from 0 -> 416 with the current Range
for r in 140000-208927 65536-134463 131000-199927 0-68927; do
    patch "$loc" "$T/c3" "$r"
    expect_status 416 "out-of-order chunk $r"
    want_hdr Range 0-131071 "out-of-order chunk $r"
done
expect_eq "$(upload_range "$loc")" 0-131071 "status after the out-of-order chunks"
ok "out-of-order chunks -> 416 with Range 0-131071; the offset did not move"

patch "$loc" "$T/c3" 131072-199999
expect_status 202 "the right chunk after the 416s"
want_session_hdrs "the right chunk after the 416s" 0-199999
loc=$(loc_path)
req PUT "$(with_query "$loc" "digest=$D")" -H 'Content-Length: 0'
expect_status 201 "closing PUT with an empty body"
want_hdr Location "/v2/$R/blobs/$D" "closing PUT"
want_hdr Docker-Content-Digest "$D" "closing PUT"
want_blob $R "$D" "$T/blob"
req GET "$loc"
want_error 404 BLOB_UPLOAD_UNKNOWN "status of the completed session"
ok "the session stays usable after 416; PUT ?digest= with an empty body -> 201; blob identical"

# --- the final chunk in the PUT, with Content-Range
R=lib/chunked-final
loc=$(start_upload $R)
patch "$loc" "$T/c1" 0-65535
expect_status 202 "first chunk"
loc=$(loc_path)
part "$T/rest" 65536 199999
req PUT "$(with_query "$loc" "digest=$D")" "${OCT[@]}" -H 'Content-Range: 65536-199999' \
    --data-binary @"$T/rest"
expect_status 201 "final chunk in the PUT"
want_hdr Location "/v2/$R/blobs/$D" "final chunk in the PUT"
want_blob $R "$D" "$T/blob"
ok "final chunk sent in the closing PUT with Content-Range -> 201"

# --- the final chunk in the PUT without Content-Range (appended)
R=lib/chunked-final2
loc=$(start_upload $R)
patch "$loc" "$T/c1" 0-65535
expect_status 202 "first chunk"
loc=$(loc_path)
req PUT "$(with_query "$loc" "digest=$D")" "${OCT[@]}" --data-binary @"$T/rest"
expect_status 201 "final chunk in the PUT without Content-Range"
want_blob $R "$D" "$T/blob"
ok "final chunk sent in the closing PUT without Content-Range -> 201"

# --- streamed: PATCHes without Content-Range append
R=lib/streamed
loc=$(start_upload $R)
patch "$loc" "$T/c1" ""
expect_status 202 "streamed PATCH 1"
want_session_hdrs "streamed PATCH 1" 0-65535
loc=$(loc_path)
patch "$loc" "$T/c2" ""
expect_status 202 "streamed PATCH 2"
want_session_hdrs "streamed PATCH 2" 0-131071
loc=$(loc_path)
expect_eq "$(upload_range "$loc")" 0-131071 "status between streamed PATCHes"
patch "$loc" "$T/c3" ""
expect_status 202 "streamed PATCH 3"
want_session_hdrs "streamed PATCH 3" 0-199999
loc=$(loc_path)
req PUT "$(with_query "$loc" "digest=$D")" -H 'Content-Length: 0'
expect_status 201 "closing PUT after streamed PATCHes"
want_blob $R "$D" "$T/blob"
ok "streamed PATCHes without Content-Range append; Range follows; PUT -> 201"

# --- chunk after a streamed one, mixing both styles
R=lib/mixed
loc=$(start_upload $R)
patch "$loc" "$T/c1" ""
expect_status 202 "streamed first chunk"
loc=$(loc_path)
patch "$loc" "$T/c2" 65536-131071
expect_status 202 "ranged chunk after a streamed one"
want_hdr Range 0-131071 "ranged chunk after a streamed one"
loc=$(loc_path)
patch "$loc" "$T/c3" ""
expect_status 202 "streamed chunk after a ranged one"
loc=$(loc_path)
req PUT "$(with_query "$loc" "digest=$D")" -H 'Content-Length: 0'
expect_status 201 "closing PUT of the mixed upload"
want_blob $R "$D" "$T/blob"
ok "streamed and ranged chunks mix"

# --- a zero-length PATCH changes nothing
R=lib/zero
loc=$(start_upload $R)
req PATCH "$loc" "${OCT[@]}" -H 'Content-Length: 0'
expect_status 202 "empty PATCH"
want_hdr Range 0-0 "empty PATCH"
loc=$(loc_path)
patch "$loc" "$T/c1" 0-65535
expect_status 202 "first chunk after an empty PATCH"
req DELETE "$(loc_path)"
expect_status 204 "cancel"
ok "an empty PATCH is accepted and moves nothing"

finish
