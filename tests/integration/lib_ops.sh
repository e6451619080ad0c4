# shellcheck shell=bash
# Extra helpers for the artifact, crash-safety and operations tests. Source it after lib.sh.
# Nothing here replaces lib.sh: it adds pushes that follow the client's request sequence,
# byte-exact pulls, a slow raw-socket HTTP client, and a way to run a second berth process
# with arbitrary options and its own log.

EMPTY_CONFIG_DIGEST=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a
OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
OCI_INDEX=application/vnd.oci.image.index.v1+json
ACCEPT_MANIFESTS="$OCI_MANIFEST, $OCI_INDEX, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

# size_of FILE -> bytes
size_of() { stat -c %s "$1"; }

# descriptor MEDIATYPE FILE [TITLE]: the JSON descriptor of FILE, with an image title
# annotation when TITLE is given (what `oras push FILE:TYPE` writes per layer).
descriptor() {
    local mt=$1 f=$2 title=${3:-}
    if [ -n "$title" ]; then
        jq -cn --arg mt "$mt" --arg d "$(sha256_of "$f")" --argjson s "$(size_of "$f")" \
            --arg t "$title" \
            '{mediaType: $mt, digest: $d, size: $s,
              annotations: {"org.opencontainers.image.title": $t}}'
    else
        jq -cn --arg mt "$mt" --arg d "$(sha256_of "$f")" --argjson s "$(size_of "$f")" \
            '{mediaType: $mt, digest: $d, size: $s}'
    fi
}

# client_push_blob REPO FILE: the sequence oras-go and helm use for one blob: HEAD (404), POST
# to open a session (202 + Location), PUT to the Location with ?digest= and the whole body
# (201). A blob that already exists is skipped, as the clients do. Prints the digest.
client_push_blob() {
    local repo=$1 f=$2 d loc sep
    d=$(sha256_of "$f")
    req HEAD "/v2/$repo/blobs/$d"
    if [ "$STATUS" = 200 ]; then
        expect_hdr Docker-Content-Digest "$d" "HEAD existing blob $d"
        echo "$d"
        return 0
    fi
    expect_status 404 "HEAD blob $d before the push"
    req POST "/v2/$repo/blobs/uploads/"
    expect_status 202 "open upload session in $repo"
    loc=$(hdr Location)
    [ -n "$loc" ] || fail "upload session without Location"
    case "$loc" in http://*) loc=${loc#http://*/} loc=/$loc ;; esac
    case "$loc" in *\?*) sep='&' ;; *) sep='?' ;; esac
    req PUT "$loc${sep}digest=$d" --data-binary @"$f" -H 'Content-Type: application/octet-stream'
    expect_status 201 "finish upload of $f"
    expect_hdr Docker-Content-Digest "$d" "digest of uploaded $f"
    expect_eq "$(hdr Location)" "/v2/$repo/blobs/$d" "Location of uploaded $f"
    echo "$d"
}

# client_push_manifest REPO REF FILE MEDIATYPE: PUT as oras/helm do; prints the digest and
# checks it is the sha256 of the exact bytes sent.
client_push_manifest() {
    local d
    d=$(push_manifest "$1" "$2" "$3" "$4")
    expect_eq "$d" "$(sha256_of "$3")" "digest of manifest $3 pushed to $1:$2"
    echo "$d"
}

# pull_manifest_cmp REPO REF FILE MEDIATYPE: GET with the Accept list clients send; the body
# must be byte-identical to FILE, with the right Content-Type and digest headers, and HEAD
# must agree. $BODY holds the manifest afterwards.
pull_manifest_cmp() {
    local repo=$1 ref=$2 f=$3 mt=$4 d
    d=$(sha256_of "$f")
    req HEAD "/v2/$repo/manifests/$ref" -H "Accept: $ACCEPT_MANIFESTS"
    expect_status 200 "HEAD manifest $repo:$ref"
    expect_hdr Content-Type "$mt" "HEAD Content-Type of $repo:$ref"
    expect_hdr Content-Length "$(size_of "$f")" "HEAD Content-Length of $repo:$ref"
    expect_hdr Docker-Content-Digest "$d" "HEAD Docker-Content-Digest of $repo:$ref"
    req GET "/v2/$repo/manifests/$ref" -H "Accept: $ACCEPT_MANIFESTS"
    expect_status 200 "GET manifest $repo:$ref"
    cmp -s "$BODY" "$f" || fail "manifest $repo:$ref is not byte-identical to what was pushed"
    expect_hdr Content-Type "$mt" "Content-Type of $repo:$ref"
    expect_hdr Docker-Content-Digest "$d" "Docker-Content-Digest of $repo:$ref"
}

# pull_blob_cmp REPO FILE: GET the blob named by FILE's digest; byte-identical, digest header.
pull_blob_cmp() {
    local repo=$1 f=$2 d
    d=$(sha256_of "$f")
    req GET "/v2/$repo/blobs/$d" -L
    expect_status 200 "GET blob $d from $repo"
    cmp -s "$BODY" "$f" || fail "blob $d from $repo is not byte-identical to $(basename "$f")"
    expect_hdr Docker-Content-Digest "$d" "Docker-Content-Digest of blob $d"
    expect_eq "$(sha256_of "$BODY")" "$d" "digest of the pulled blob"
}

# wait_until SECONDS COMMAND...: polls COMMAND every 50 ms; returns 1 on timeout.
wait_until() {
    local limit=$1 i
    shift
    for i in $(seq 1 $((limit * 20))); do
        if "$@"; then return 0; fi
        sleep 0.05
    done
    return 1
}

# upload_bytes: total bytes in files under $DATA/uploads (0 when there are none).
upload_bytes() {
    local n=0 f
    for f in "$DATA"/uploads/*; do
        [ -f "$f" ] || continue
        n=$((n + $(size_of "$f")))
    done
    echo "$n"
}

# blob_files: how many committed blob files the store holds.
blob_files() {
    find "$DATA/blobs" -type f 2>/dev/null | wc -l
}

# kill9_berth: SIGKILL the server and forget it, keeping the data directory as it is.
kill9_berth() {
    stop_berth KILL
}

# forget_berth: after the test itself waited for the server to exit, clears BERTH_PID and sets
# its log aside (as stop_berth does) so the next start_berth reads a fresh log.
forget_berth() {
    BERTH_PID=
    mv "$T/berth.log" "$T/berth.$(date +%s%N).log" 2>/dev/null || true
}

# A raw HTTP/1.1 client that can send a body slowly, stall, or wait for a go-ahead. Usage:
#   slow_http METHOD PATH SIZE SECONDS [stall:N | gate:FILE]
# sends SIZE bytes (byte i is i % 251) in 20 pieces spread over SECONDS. With stall:N it sends
# only half and then waits up to N seconds for the server to hang up before closing. With
# gate:FILE it sends half, waits (up to 60 s) until FILE exists, then sends the rest. Writes
# "sending" to $T/slow.started once the headers and the first piece are out ("half" once half
# is out), and prints the response status (or "closed" when the server hung up). Run in the
# background (`slow_http ... &`), $! is the client process itself.
slow_http() {
    if [ ! -f "$T/slow_http.py" ]; then
        cat >"$T/slow_http.py" <<'PY'
import os, socket, sys, time
started = sys.argv[1]
port, method, path, size, secs = int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
mode = sys.argv[7] if len(sys.argv) > 7 else ""
body = bytes(i % 251 for i in range(size))
s = socket.create_connection(("127.0.0.1", port))
s.sendall(("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/octet-stream\r\n"
           "Content-Length: %d\r\nConnection: close\r\n\r\n" % (method, path, port, size)).encode())
pieces = 20
step = (size + pieces - 1) // pieces
status = "closed"
def note(what):
    with open(started, "w") as f:
        f.write(what + "\n")
try:
    for k in range(pieces):
        s.sendall(body[k * step:(k + 1) * step])
        if k == 0:
            note("sending")
        if k == pieces // 2 and mode:
            note("half")
            if mode.startswith("stall:"):
                s.settimeout(float(mode[6:]))
                try:
                    while s.recv(4096):
                        pass
                except (socket.timeout, OSError):
                    pass
                sys.exit(0)
            if mode.startswith("gate:"):
                deadline = time.time() + 60
                while not os.path.exists(mode[5:]) and time.time() < deadline:
                    time.sleep(0.02)
        time.sleep(secs / pieces)
    data = b""
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    if data.startswith(b"HTTP/1."):
        status = data.split(b" ")[1].decode()
except (BrokenPipeError, ConnectionResetError):
    pass
print(status)
PY
    fi
    if [ "$BASH_SUBSHELL" -gt 0 ]; then
        exec python3 "$T/slow_http.py" "$T/slow.started" "$PORT" "$@"
    fi
    python3 "$T/slow_http.py" "$T/slow.started" "$PORT" "$@"
}

# slow_body_digest SIZE: the digest of slow_http's body of SIZE bytes.
slow_body_digest() {
    python3 -c '
import hashlib, sys
n = int(sys.argv[1])
print("sha256:" + hashlib.sha256(bytes(i % 251 for i in range(n))).hexdigest())' "$1"
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# spawn_berth LOG PORT [serve options...]: starts `berth serve` with exactly the given options
# (no --data-dir or --listen added), sets SPAWN_PID, and waits (up to 30 s) until
# 127.0.0.1:PORT answers.
# Returns 1 (with SPAWN_PID cleared) when the process exits before that.
SPAWN_PIDS=()
spawn_berth() {
    local log=$1 port=$2 i
    shift 2
    "$BERTH_BIN" serve "$@" >>"$log" 2>&1 &
    SPAWN_PID=$!
    SPAWN_PIDS+=("$SPAWN_PID")
    for i in $(seq 1 600); do
        if curl -s -o /dev/null "http://127.0.0.1:$port/v2/"; then return 0; fi
        if ! kill -0 "$SPAWN_PID" 2>/dev/null; then
            wait "$SPAWN_PID" 2>/dev/null || true
            SPAWN_PID=
            return 1
        fi
        sleep 0.05
    done
    fail "berth did not answer on port $port; log: $(tail -n 5 "$log")"
}

# stop_spawned PID: SIGTERM and wait; sets SPAWN_RC to the exit status. (Call it directly,
# not in $(...): a subshell cannot wait for the server.)
stop_spawned() {
    SPAWN_RC=0
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || SPAWN_RC=$?
}

# Spawned servers and background helpers are stopped on exit too, before lib.sh's handler.
BG_PIDS=()
_ops_cleanup() {
    local p
    for p in "${SPAWN_PIDS[@]}" "${BG_PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            kill -KILL "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
}
_ops_exit() {
    local rc=$?
    set +e
    _ops_cleanup
    (exit $rc)
    _finish
}
trap _ops_exit EXIT
