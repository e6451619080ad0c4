#!/usr/bin/env bash
# Limits are settings with safe defaults: manifest size, header size, concurrent uploads and
# idle-connection timeout are enforced with clear errors, and the server keeps serving.
. "$(dirname "$0")/lib.sh"
start_berth --max-manifest-size 2048 --max-concurrent-uploads 1 --request-timeout 2 \
    --max-header-size 16384

# manifest size
python3 -c 'import json; print(json.dumps({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"annotations":{"pad":"x"*3000}}))' >"$T/big"
req PUT /v2/lim/manifests/big --data-binary @"$T/big" -H 'Content-Type: application/vnd.oci.image.index.v1+json'
expect_error 413 MANIFEST_INVALID "manifest over --max-manifest-size"
req GET /v2/lim/manifests/big
expect_status 404 "oversized manifest not stored"
echo '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}' >"$T/small"
req PUT /v2/lim/manifests/small --data-binary @"$T/small" -H 'Content-Type: application/vnd.oci.image.index.v1+json'
expect_status 201 "manifest under the limit"
ok "--max-manifest-size is enforced with 413 MANIFEST_INVALID"

# header size: Berth enforces --max-header-size itself (the connection buffer, 128 KiB by
# default, is larger): 32 KiB of headers is refused with 431, 12 KiB passes
big=$(head -c 32768 /dev/zero | tr '\0' a)
req GET /v2/ -H "X-Big: $big"
expect_error 431 UNSUPPORTED "32 KiB of headers over a 16 KiB limit"
mid=$(head -c 12288 /dev/zero | tr '\0' a)
req GET /v2/ -H "X-Mid: $mid"
expect_status 200 "12 KiB of headers under a 16 KiB limit"
ok "--max-header-size answers 431 beyond the limit and accepts headers under it"

# concurrent uploads: one upload streams slowly, a second is refused with 429
req POST /v2/lim/blobs/uploads/
expect_status 202 "start upload 1"
loc1=$(hdr Location)
req POST /v2/lim/blobs/uploads/
loc2=$(hdr Location)
python3 - "$PORT" "$loc1" "$T/slow.started" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(("PATCH %s HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n" % sys.argv[2]).encode())
s.sendall(b"ab")
time.sleep(0.3)
open(sys.argv[3], "w").close()
time.sleep(1.5)
s.sendall(b"cd")
s.recv(4096)
PY
slow=$!
for i in $(seq 1 100); do [ -e "$T/slow.started" ] && break; sleep 0.05; done
[ -e "$T/slow.started" ] || fail "slow client did not start"
req PATCH "$loc2" --data-binary 'xyz'
expect_error 429 TOOMANYREQUESTS "second upload while one streams"
printf 'mono' >"$T/mono"
req POST "/v2/lim/blobs/uploads/?digest=$(sha256_of "$T/mono")" --data-binary @"$T/mono"
expect_error 429 TOOMANYREQUESTS "monolithic upload while one streams"
wait $slow
req PATCH "$loc2" --data-binary 'xyz'
expect_status 202 "second upload once the first finished"
# the refused monolithic upload left no session: only the two started above remain
n=$(ls "$DATA/uploads" | wc -l)
expect_eq "$n" 2 "upload files after a refused monolithic upload"
req GET "$loc1"
expect_hdr Range "0-3" "slow upload completed its chunk"
ok "--max-concurrent-uploads answers 429 and frees the slot afterwards"

# idle timeout: a connection that sends nothing is closed after --request-timeout
python3 - "$PORT" <<'PY' || fail "idle connection was not closed"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
t = time.time()
data = s.recv(1)   # returns b"" when the server closes the connection
if data != b"" or time.time() - t > 8:
    sys.exit(1)
PY
req GET /v2/
expect_status 200 "server still serving"
ok "--request-timeout closes idle connections"
stop_berth
fsck_clean
