#!/usr/bin/env bash
# An upload whose acknowledged bytes were lost (as after a power failure: chunks are not
# fsynced one by one) is reported by fsck, and the next request on it gets 404
# BLOB_UPLOAD_UNKNOWN so the client restarts; nothing half-written becomes visible.
. "$(dirname "$0")/lib.sh"
start_berth
head -c 3000 /dev/urandom >"$T/blob"
head -c 2000 "$T/blob" >"$T/first"
tail -c 1000 "$T/blob" >"$T/rest"
req POST /v2/power/loss/blobs/uploads/
expect_status 202 "start upload"
loc=$(hdr Location)
id=${loc##*/}
req PATCH "$loc" --data-binary @"$T/first" -H 'Content-Range: 0-1999'
expect_status 202 "first chunk"
stop_berth

# simulate the power loss: the file lost its tail, the committed offset says 2000
truncate -s 1500 "$DATA/uploads/$id"
out=$("$BERTH_BIN" fsck --data-dir "$DATA" 2>&1) && fail "fsck passed a broken upload: $out"
echo "$out" | grep -q "broken upload $id" || fail "fsck did not report the upload: $out"
ok "fsck reports the upload that lost acknowledged bytes"

start_berth
req PATCH "$loc" --data-binary @"$T/rest" -H 'Content-Range: 2000-2999'
expect_error 404 BLOB_UPLOAD_UNKNOWN "chunk on an upload that lost its bytes"
req GET "$loc"
expect_error 404 BLOB_UPLOAD_UNKNOWN "the broken session is gone"
d=$(push_blob power/loss "$T/blob")
req GET "/v2/power/loss/blobs/$d"
expect_status 200 "restarted upload"
cmp -s "$BODY" "$T/blob" || fail "restarted upload differs"
ok "the client is told to restart, and the restarted upload is intact"
stop_berth
fsck_clean
