#!/usr/bin/env bash
# Graceful shutdown: SIGTERM (and SIGINT) let an upload that is in flight finish with its
# normal status, refuse new connections at once, and exit 0. A second signal during the drain
# exits at once, non-zero; a drain that cannot finish ends at --drain-timeout.
. "$(dirname "$0")/lib.sh"
. "$HERE/lib_ops.sh"

REPO=ops/shutdown
SIZE=$((256 * 1024 + 11))
DIGEST=$(slow_body_digest $SIZE)

# slow_upload_during SIGNAL: a monolithic upload whose client sends half its body, then
# holds the rest back until the test has sent SIGNAL and checked that new connections are
# refused; then it sends the rest over ~1 s. Sets DRAIN_MS to the time from the signal to
# the exit.
slow_upload_during() {
    local sig=$1 rc=0 t0 t1 crc=0
    rm -f "$T/slow.started" "$T/slow.go"
    slow_http POST "/v2/$REPO/blobs/uploads/?digest=$DIGEST" $SIZE 2 "gate:$T/slow.go" >"$T/slow.out" &
    local client=$!
    BG_PIDS+=("$client")
    half() { grep -q half "$T/slow.started" 2>/dev/null; }
    wait_until 30 half || fail "$sig: the slow client did not get half its body out"
    session_open() { [ -n "$(ls "$DATA/uploads" 2>/dev/null)" ]; }
    wait_until 30 session_open || fail "$sig: the server did not start the upload"
    t0=$(date +%s%N)
    kill -"$sig" "$BERTH_PID"
    draining() { grep -q "SIG$sig: draining 1 in-flight" "$T/berth.log"; }
    wait_until 30 draining || fail "$sig: no 'draining 1 in-flight' message in the log"
    # new connections are refused while the upload still drains
    curl -s -o /dev/null --max-time 5 "$URL/v2/" || crc=$?
    expect_eq "$crc" 7 "$sig: curl exit status for a new connection during the drain (7 = refused)"
    kill -0 "$BERTH_PID" 2>/dev/null || fail "$sig: berth exited before the upload finished"
    touch "$T/slow.go"
    wait "$client" || fail "$sig: the slow client failed"
    expect_eq "$(cat "$T/slow.out")" 201 "$sig: status of the upload in flight"
    wait "$BERTH_PID" || rc=$?
    t1=$(date +%s%N)
    expect_eq "$rc" 0 "$sig: exit status after the drain"
    grep -q 'stopped' "$T/berth.log" || fail "$sig: no 'stopped' line in the log"
    forget_berth
    DRAIN_MS=$(((t1 - t0) / 1000000))
}

# ---- SIGTERM ----
start_berth
slow_upload_during TERM
ok "SIGTERM: the in-flight upload completed with 201, new connections were refused, exit 0 after $DRAIN_MS ms"
start_berth
req HEAD "/v2/$REPO/blobs/$DIGEST"
expect_status 200 "the drained upload's blob after a restart"
expect_hdr Content-Length "$SIZE" "size of the drained upload's blob"
ok "the blob uploaded during the drain is stored"

# ---- SIGINT ----
DIGEST_BEFORE=$DIGEST
SIZE=$((128 * 1024 + 5))
DIGEST=$(slow_body_digest $SIZE)
slow_upload_during INT
ok "SIGINT: the in-flight upload completed with 201, new connections were refused, exit 0 after $DRAIN_MS ms"
start_berth
req HEAD "/v2/$REPO/blobs/$DIGEST"
expect_status 200 "the blob uploaded during the SIGINT drain"
req HEAD "/v2/$REPO/blobs/$DIGEST_BEFORE"
expect_status 200 "the earlier blob"

# ---- idle server: SIGTERM exits 0 promptly ----
rc=0
t0=$(date +%s%N)
kill -TERM "$BERTH_PID"
wait "$BERTH_PID" || rc=$?
t1=$(date +%s%N)
forget_berth
expect_eq "$rc" 0 "exit status of an idle server on SIGTERM"
[ $(((t1 - t0) / 1000000)) -lt 10000 ] || fail "an idle server took $(((t1 - t0) / 1000000)) ms to stop"
ok "an idle server stops on SIGTERM within $(((t1 - t0) / 1000000)) ms, exit 0"

# ---- idle, half-sent and kept-alive connections do not hold the drain ----
start_berth
python3 - "$PORT" "$T/conns.ready" <<'EOF' &
import socket, sys, time
port = int(sys.argv[1])
idle = socket.create_connection(("127.0.0.1", port))
partial = socket.create_connection(("127.0.0.1", port))
partial.sendall(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
alive = socket.create_connection(("127.0.0.1", port))
alive.sendall(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
alive.recv(4096)
open(sys.argv[2], "w").write("ready\n")
time.sleep(60)
EOF
holder=$!
BG_PIDS+=("$holder")
wait_until 30 test -s "$T/conns.ready" || fail "the connection holder did not get ready"
rc=0
t0=$(date +%s%N)
kill -TERM "$BERTH_PID"
wait "$BERTH_PID" || rc=$?
t1=$(date +%s%N)
forget_berth
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
expect_eq "$rc" 0 "exit status with idle connections open"
[ $(((t1 - t0) / 1000000)) -lt 10000 ] || fail "idle connections held the drain for $(((t1 - t0) / 1000000)) ms"
ok "idle, half-sent and kept-alive connections do not hold the drain ($(((t1 - t0) / 1000000)) ms, exit 0)"

# ---- a second SIGTERM during a drain that cannot finish ----
start_berth --drain-timeout 30
rm -f "$T/slow.started"
slow_http POST "/v2/$REPO/blobs/uploads/?digest=$DIGEST" $SIZE 1 stall:60 >/dev/null &
staller=$!
BG_PIDS+=("$staller")
half() { grep -q half "$T/slow.started" 2>/dev/null; }
wait_until 30 half || fail "the stalling client did not get half its body out"
kill -TERM "$BERTH_PID"
draining() { grep -q "SIGTERM: draining" "$T/berth.log"; }
wait_until 30 draining || fail "no drain message after the first SIGTERM"
sleep 0.5
kill -0 "$BERTH_PID" 2>/dev/null || fail "berth exited although a request was still in flight"
rc=0
t0=$(date +%s%N)
kill -TERM "$BERTH_PID"
wait "$BERTH_PID" || rc=$?
t1=$(date +%s%N)
grep -q 'second signal' "$T/berth.log" || fail "no log line for the second signal"
forget_berth
[ "$rc" -ne 0 ] || fail "a second SIGTERM during the drain exited 0"
[ $(((t1 - t0) / 1000000)) -lt 10000 ] || fail "the second SIGTERM took $(((t1 - t0) / 1000000)) ms"
ok "a second SIGTERM during the drain exits at once (status $rc, $(((t1 - t0) / 1000000)) ms)"
kill "$staller" 2>/dev/null || true
wait "$staller" 2>/dev/null || true

# ---- a drain that cannot finish ends at --drain-timeout ----
start_berth --drain-timeout 1
rm -f "$T/slow.started"
slow_http POST "/v2/$REPO/blobs/uploads/?digest=$DIGEST" $SIZE 1 stall:60 >/dev/null &
staller=$!
BG_PIDS+=("$staller")
wait_until 30 half || fail "the stalling client did not get half its body out"
session_open() { [ "$(upload_bytes)" -gt 0 ]; }
wait_until 30 session_open || fail "the server did not receive the stalled body"
rc=0
t0=$(date +%s%N)
kill -TERM "$BERTH_PID"
wait "$BERTH_PID" || rc=$?
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
grep -q 'drain timeout' "$T/berth.log" || fail "no log line for the drain timeout"
forget_berth
[ "$ms" -ge 900 ] && [ "$ms" -lt 15000 ] || fail "--drain-timeout 1 stopped after $ms ms"
expect_eq "$rc" 0 "exit status after the drain timeout"
ok "--drain-timeout 1 with a stalled client: stopped after $ms ms, exit 0"
kill "$staller" 2>/dev/null || true
wait "$staller" 2>/dev/null || true

fsck_clean
ok "fsck is clean afterwards"
