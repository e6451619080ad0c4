#!/usr/bin/env bash
# Truncated uploads: the client announces Content-Length: 1000000, sends 1000 bytes and closes
# the connection (at once, after a pause, or with a reset). The server keeps serving, the session
# offset does not advance, nothing is stored, and the same session can then be used to upload the
# blob in full. The same for a truncated monolithic POST (which must leave no session) and a
# truncated closing PUT.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
# a short drain, so stopping is quick even if a dead connection were still counted in flight
start_berth --drain-timeout 3
R=lib/trunc
OCT=(-H 'Content-Type: application/octet-stream')

gen_bytes "$T/blob" 1000000 1
D=$(sha256_of "$T/blob")

# truncated MODE METHOD PATH [HEADER...]: sends the request line, the headers, Content-Length:
# 1000000 and the first 1000 bytes of the blob, then: close (at once), pause (close after 0.3 s)
# or reset (close with SO_LINGER 0, an RST)
truncated() {
    local mode=$1 method=$2 path=$3
    shift 3
    "$PY" -c '
import socket, struct, sys, time
port, mode, method, path, blob = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
headers = sys.argv[6:]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n" % (method, path)
head += "".join(h + "\r\n" for h in headers)
head += "Content-Length: 1000000\r\n\r\n"
with open(blob, "rb") as f:
    data = f.read(1000)
s.sendall(head.encode() + data)
if mode == "pause":
    time.sleep(0.3)
if mode == "reset":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
' "$PORT" "$mode" "$method" "$path" "$T/blob" "$@"
}

# usable LOC WHAT: within 3 s the session at LOC takes the whole blob (a PATCH that is refused
# with 409 because the server still thinks the dead request is writing is retried; Expect lets
# the server refuse before the megabyte is sent)
usable() {
    for _ in $(seq 1 30); do
        req PATCH "$1" "${OCT[@]}" -H 'Expect: 100-continue' -H 'Content-Range: 0-999999' \
            --data-binary @"$T/blob"
        [ "$STATUS" = 409 ] || break
        sleep 0.1
    done
    expect_status 202 "$2: full upload into the same session after the truncated request"
    want_hdr Range 0-999999 "$2: full upload"
    req PUT "$(with_query "$(loc_path)" "digest=$D")" -H 'Content-Length: 0'
    expect_status 201 "$2: closing PUT"
    want_blob $R "$D" "$T/blob"
    req DELETE "/v2/$R/blobs/$D"
    expect_status 202 "$2: DELETE the blob for the next case"
}

# "close" three times: whether a server notices a hang-up that arrives with the data can be a
# matter of timing, and one pass could miss it
for mode in pause reset close close close; do
    for style in streamed ranged; do
        what="$style PATCH cut short ($mode)"
        loc=$(start_upload $R)
        cr=()
        [ $style = streamed ] || cr=("Content-Range: 0-999999")
        truncated $mode PATCH "$loc" "${cr[@]}"
        alive "$what"
        expect_eq "$(upload_range "$loc")" 0-0 "$what: session offset"
        want_no_blob $R "$D"
        usable "$loc" "$what"
        ok "$what: server serving, offset 0-0, nothing stored, the session then completes"
    done

    what="closing PUT cut short ($mode)"
    loc=$(start_upload $R)
    truncated $mode PUT "$(with_query "$loc" "digest=$D")"
    alive "$what"
    expect_eq "$(upload_range "$loc")" 0-0 "$what: session offset"
    want_no_blob $R "$D"
    usable "$loc" "$what"
    ok "$what: no blob, offset 0-0, the session then completes"

    what="monolithic POST cut short ($mode)"
    truncated $mode POST "/v2/$R/blobs/uploads/?digest=$D"
    alive "$what"
    want_no_blob $R "$D"
    for _ in $(seq 1 30); do
        [ "$(upload_files)" = 0 ] && break
        sleep 0.1
    done
    expect_eq "$(upload_files)" 0 "$what: upload sessions left after 3 s"
    ok "$what: nothing stored and no session left"
done

finish
