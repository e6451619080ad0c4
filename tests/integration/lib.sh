# Shared helpers for integration tests. Each test file sources this, starts its own berth on a
# free loopback port with a fresh data directory, drives real clients (curl, skopeo), and
# asserts exact statuses, headers and error codes. On failure the data directory is kept and
# the server log is printed.
set -euo pipefail

BERTH_BIN=${BERTH_BIN:?BERTH_BIN must point at the berth binary}
TESTDATA=${BERTH_TESTDATA:?BERTH_TESTDATA must point at tests/data}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/berth-test.XXXXXX")
DATA=$T/data
BERTH_PID=
PORT=
REG=
URL=
STATUS=
HDRS=$T/last.headers
BODY=$T/last.body
_failed=0

_finish() {
    local rc=$?
    if [ -n "$BERTH_PID" ] && kill -0 "$BERTH_PID" 2>/dev/null; then
        kill -TERM "$BERTH_PID" 2>/dev/null || true
        wait "$BERTH_PID" 2>/dev/null || true
    fi
    if [ $rc -ne 0 ] || [ $_failed -ne 0 ]; then
        echo "--- test failed; data kept in $T; server log (last 60 lines):"
        tail -n 60 "$T"/berth*.log 2>/dev/null || true
    else
        rm -rf "$T"
    fi
}
trap _finish EXIT

fail() {
    _failed=1
    echo "FAIL: $*" >&2
    exit 1
}

ok() { echo "ok - $*"; }

# The OCI core tests exercise the registry itself, so by default they run without identity
# and with create-on-push (both off in a default `berth serve`). The t_ecr_* and t_auth_*
# tests start with auth on (lib_ecr.sh) and prove the defaults.
export BERTH_AUTH=${BERTH_AUTH-false}
export BERTH_AUTO_CREATE_REPOS=${BERTH_AUTO_CREATE_REPOS-true}

# start_berth [extra serve options...]: starts a server and waits until it listens.
start_berth() {
    local log=$T/berth.log
    "$BERTH_BIN" serve --listen 127.0.0.1:0 --data-dir "$DATA" "$@" >>"$log" 2>&1 &
    BERTH_PID=$!
    local i
    for i in $(seq 1 200); do
        PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | tail -n 1)
        if [ -n "$PORT" ] && [ "$PORT" != 0 ]; then
            # the log file accumulates across restarts: only trust a line newer than our start
            if curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/"; then break; fi
        fi
        kill -0 "$BERTH_PID" 2>/dev/null || fail "berth exited during start-up"
        sleep 0.05
    done
    [ -n "$PORT" ] || fail "berth did not start listening"
    REG=127.0.0.1:$PORT
    URL=http://$REG
}

# stop_berth [SIGNAL]: stops the server and waits for it (default SIGTERM). After TERM or INT
# the server must exit 0: that is a clean drain, and in sanitizer builds it also means no leak
# or error report at exit.
stop_berth() {
    local sig=${1:-TERM} rc=0
    kill -"$sig" "$BERTH_PID" 2>/dev/null || true
    wait "$BERTH_PID" 2>/dev/null || rc=$?
    if [ "$sig" = TERM ] || [ "$sig" = INT ]; then
        [ "$rc" -eq 0 ] || fail "berth exited with status $rc after SIG$sig"
    fi
    BERTH_PID=
    : >"$T/berth.log.marker"
    mv "$T/berth.log" "$T/berth.$(date +%s%N).log" 2>/dev/null || true
}

# req METHOD PATH [curl options...]: one request; sets STATUS, $HDRS and $BODY.
req() {
    local method=$1 path=$2
    shift 2
    local args=(-s -o "$BODY" -D "$HDRS" -w '%{http_code}')
    if [ "$method" = HEAD ]; then args+=(-I); else args+=(-X "$method"); fi
    STATUS=$(curl "${args[@]}" "$@" "$URL$path") || STATUS=000
}

# hdr NAME: a header of the last response (case-insensitive), without CR.
hdr() {
    { grep -i "^$1:" "$HDRS" || true; } | tail -n 1 | cut -d' ' -f2- | tr -d '\r'
}

expect_status() {
    [ "$STATUS" = "$1" ] || fail "${2:-request}: status $STATUS, want $1; body: $(head -c 400 "$BODY")"
}

expect_error() { # expect_error STATUS CODE [what]
    expect_status "$1" "${3:-request}"
    local code
    code=$(jq -r '.errors[0].code' "$BODY" 2>/dev/null || true)
    [ "$code" = "$2" ] || fail "${3:-request}: error code '$code', want $2; body: $(head -c 400 "$BODY")"
}

expect_hdr() { # expect_hdr NAME VALUE [what]
    local v
    v=$(hdr "$1")
    [ "$v" = "$2" ] || fail "${3:-request}: header $1 is '$v', want '$2'"
}

expect_eq() { # expect_eq ACTUAL EXPECTED what
    [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"
}

sha256_of() { # sha256_of FILE -> sha256:<hex>
    echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"
}

# push_blob REPO FILE: monolithic upload; prints the digest.
push_blob() {
    local d
    d=$(sha256_of "$2")
    req POST "/v2/$1/blobs/uploads/?digest=$d" --data-binary @"$2" -H 'Content-Type: application/octet-stream'
    expect_status 201 "push blob $2 to $1"
    echo "$d"
}

# push_manifest REPO REF FILE MEDIATYPE: prints the digest.
push_manifest() {
    req PUT "/v2/$1/manifests/$2" --data-binary @"$3" -H "Content-Type: $4"
    expect_status 201 "push manifest $3 to $1:$2"
    hdr Docker-Content-Digest
}

# fsck_clean: berth fsck on the (stopped) data directory must report nothing.
fsck_clean() {
    local out
    out=$("$BERTH_BIN" fsck --data-dir "$DATA" 2>&1) || fail "fsck not clean: $out"
    echo "$out" | grep -q 'fsck: clean' || fail "fsck not clean: $out"
}

SKOPEO=(skopeo --insecure-policy)
