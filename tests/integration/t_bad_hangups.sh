#!/usr/bin/env bash
# Clients that hang up: each sends something (garbage, half a request, a request with half its
# body) and closes its side of the connection. The server must let go of those connections
# promptly, so they cannot add up to its connection limit and lock everyone else out.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
MAXCONN=20
start_berth --max-connections $MAXCONN --drain-timeout 3

loc=$(start_upload lib/a)

# hang_up N: N clients per kind of request, each half-closes after sending, then closes
hang_up() {
    "$PY" -c '
import socket, sys, time
port, n, loc = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
kinds = [
    b"\x00\x01\x02\xff / HTTP/1.1\r\n\r\n",
    b"garbage\r\n\r\n",
    b"GET /v2/ HTTP/1.1\r\nHost: x\r\n",
    ("PATCH %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" % loc).encode() + b"x" * 10,
    b"PUT /v2/lib/a/manifests/t HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{",
]
socks = []
for k in kinds:
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(k)
            s.shutdown(socket.SHUT_WR)
            socks.append(s)
        except OSError:
            pass
time.sleep(0.2)
for s in socks:
    s.close()
' "$PORT" "$1" "$loc"
}

# served WHAT: within about 3 s a new client gets GET /v2/ answered
served() {
    local end=$((SECONDS + 4))
    while :; do
        req GET /v2/ -m 1
        [ "$STATUS" = 200 ] && return 0
        [ $SECONDS -lt $end ] || break
        sleep 0.1
    done
    fail "$1: GET /v2/ still not answered 3 s later (status $STATUS)"
}

for round in 1 2 3; do
    hang_up $MAXCONN
    served "after $((5 * MAXCONN)) clients hung up (round $round)"
done
ok "$((15 * MAXCONN)) hung-up clients never lock out a new one (connection limit $MAXCONN)"

# the upload session those PATCHes named is not stuck either
for _ in $(seq 1 30); do
    req PATCH "$loc" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-0' --data-binary x
    [ "$STATUS" = 409 ] || break
    sleep 0.1
done
expect_status 202 "PATCH of the session the hung-up clients wrote to"
req DELETE "$(loc_path)"
expect_status 204 "cancel the session"
ok "the upload session the hung-up clients wrote to is free again"

finish
