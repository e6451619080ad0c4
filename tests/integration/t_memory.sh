#!/usr/bin/env bash
# Blob bytes stream through the server: pushing and pulling a 256 MiB blob does not grow the
# process's memory with the blob size (uploads are written as they arrive, downloads go out
# with sendfile).
. "$(dirname "$0")/lib.sh"
start_berth
head -c $((256 * 1024 * 1024)) /dev/urandom >"$T/big"
d=$(push_blob mem/big "$T/big")
curl -s -o "$T/back" "$URL/v2/mem/big/blobs/$d"
cmp -s "$T/big" "$T/back" || fail "256 MiB blob differs after the round trip"
# chunked, to exercise PATCH streaming too
req POST /v2/mem/chunked/blobs/uploads/
loc=$(hdr Location)
split -b $((64 * 1024 * 1024)) "$T/big" "$T/part."
off=0
for p in "$T"/part.*; do
    n=$(stat -c %s "$p")
    req PATCH "$loc" --data-binary @"$p" -H "Content-Range: $off-$((off + n - 1))" -H 'Content-Type: application/octet-stream'
    expect_status 202 "chunk at $off"
    off=$((off + n))
done
req PUT "$loc?digest=$d"
expect_status 201 "finish chunked upload"
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$BERTH_PID/status")
echo "peak resident memory: ${hwm} KiB"
# The bound is generous (a quarter of the blob): sanitizer builds carry their own overhead.
[ "$hwm" -lt $((64 * 1024)) ] || fail "peak RSS ${hwm} KiB grew with the 256 MiB blob"
ok "256 MiB pushed (monolithic and chunked) and pulled with peak RSS ${hwm} KiB"
rm -f "$T/big" "$T/back" "$T"/part.*
stop_berth
