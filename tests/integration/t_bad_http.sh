#!/usr/bin/env bash
# Hostile HTTP below the API: garbage request lines, an over-long URL and header, broken
# Content-Length and chunked coding, an unknown HTTP version and method, pipelining, HTTP/1.0.
# Each gets a 4xx (or 505, or the connection closed) and the server keeps serving; nothing is
# created.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
start_berth

# raw BYTES: sends BYTES (Python escapes allowed: \r \n \x00) on a fresh connection, half-closes,
# and prints the status codes of the responses read back, space-separated ("none" if none).
# Gives up after 3 s (whether the server lets go of a finished client promptly is
# t_bad_hangups.sh's business).
raw() {
    "$PY" -c '
import re, socket, sys
data = sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1")
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
try:
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
except OSError:
    pass
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except OSError:
    pass
codes = re.findall(rb"HTTP/1\.[01] (\d{3}) ", out)
print(" ".join(c.decode() for c in codes) or "none")
' "$PORT" "$1"
}

# refused WHAT BYTES: the first answer is none, a 4xx or 505; then GET /v2/ still works
refused() {
    local got first
    got=$(raw "$2")
    first=${got%% *}
    case "$first" in none | 4?? | 505) ;; *) fail "$1: answered '$got', want a 4xx, 505 or nothing" ;; esac
    alive "after $1"
}

big=$(printf 'a%.0s' $(seq 1 70000))
refused "garbage request line" 'garbage\r\n\r\n'
refused "binary request line" '\x00\x01\x02\xff / HTTP/1.1\r\n\r\n'
refused "request line without version" 'GET /v2/\r\n\r\n'
refused "70 KB URL" "GET /v2/$big/tags/list HTTP/1.1\r\nHost: x\r\n\r\n"
refused "70 KB header" "GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: $big\r\n\r\n"
refused "header without a colon" 'GET /v2/ HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n'
refused "unknown HTTP version" 'GET /v2/ HTTP/9.9\r\nHost: x\r\n\r\n'
refused "negative Content-Length" 'PATCH /v2/lib/a/blobs/uploads/0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'
refused "non-numeric Content-Length" 'PUT /v2/lib/a/manifests/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}'
refused "huge Content-Length" 'PUT /v2/lib/a/manifests/x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n{}'
refused "broken chunked coding" 'PUT /v2/lib/a/manifests/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'
refused "unknown method" 'BREW /v2/ HTTP/1.1\r\nHost: x\r\n\r\n'
refused "invalid percent-encoding" 'GET /v2/%zz/tags/list HTTP/1.1\r\nHost: x\r\n\r\n'
refused "absolute-form URL to elsewhere" 'GET http://example.invalid/v2/lib/a/tags/list HTTP/1.1\r\nHost: x\r\n\r\n'
ok "malformed requests are refused (4xx, 505 or closed) and the server keeps serving"

# well-formed oddities that must work
expect_eq "$(raw 'GET /v2/ HTTP/1.0\r\n\r\n')" 200 "HTTP/1.0 GET /v2/"
expect_eq "$(raw 'GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\nGET /v2/_catalog HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')" \
    "200 200" "two pipelined requests"
ok "HTTP/1.0 and pipelined requests are answered"

# many concurrent idle connections do not stop the server from answering
"$PY" -c '
import socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(50)]
for s in socks:
    s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")  # headers never finished
time.sleep(0.2)
import urllib.request
with urllib.request.urlopen("http://127.0.0.1:%s/v2/" % sys.argv[1], timeout=5) as r:
    assert r.status == 200, r.status
for s in socks:
    s.close()
' "$PORT" || fail "GET /v2/ while 50 connections hold unfinished headers"
ok "50 connections with unfinished headers do not block other clients"

expect_eq "$(catalog)" "" "catalog after the hostile requests"
finish
