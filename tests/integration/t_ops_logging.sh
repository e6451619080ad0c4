#!/usr/bin/env bash
# Logging: one access line per request with method, path, status, byte counts, duration and
# request id, as text and as JSON (one object per line, every line parses); query strings and
# Authorization values never reach the log; --log-level warn suppresses access lines; a client
# cannot forge or break log lines through the path.
. "$(dirname "$0")/lib.sh"
. "$HERE/lib_ops.sh"

REPO=logs/a
head -c 5000 /dev/urandom >"$T/blob"
D=$(sha256_of "$T/blob")
SLOW_SIZE=65536
SLOW_D=$(slow_body_digest $SLOW_SIZE)
BASIC=$(printf 'user:SECRETPW789' | base64)

access_lines() { grep -c '"msg":"access"\|\] 127\.0\.0\.1 ' "$T/berth.log" || true; }

# the requests: each expected access line as "METHOD PATH STATUS IN OUT" in $T/expected
run_requests() {
    : >"$T/expected"
    req GET "/v2/"
    expect_status 200 "GET /v2/"
    echo "GET /v2/ 200 0 2" >>"$T/expected"
    req GET "/v2/logs/secret/tags/list?token=SECRET456&n=5" -H 'Authorization: Bearer SECRET123'
    expect_error 404 NAME_UNKNOWN "tags/list of an unknown repository"
    echo "GET /v2/logs/secret/tags/list 404 0 $(size_of "$BODY")" >>"$T/expected"
    req POST "/v2/$REPO/blobs/uploads/?digest=$D&token=SECRET456" --data-binary @"$T/blob" \
        -H 'Content-Type: application/octet-stream' -u 'user:SECRETPW789'
    expect_status 201 "monolithic upload"
    echo "POST /v2/$REPO/blobs/uploads/ 201 5000 0" >>"$T/expected"
    req GET "/v2/$REPO/blobs/$D?access_token=SECRET456" -H 'Authorization: Bearer SECRET123'
    expect_status 200 "GET blob"
    echo "GET /v2/$REPO/blobs/$D 200 0 5000" >>"$T/expected"
    req HEAD "/v2/$REPO/blobs/$D"
    expect_status 200 "HEAD blob"
    echo "HEAD /v2/$REPO/blobs/$D 200 0 0" >>"$T/expected"
    req GET "/nope?token=SECRET456" -H 'Authorization: Bearer SECRET123'
    expect_status 404 "unknown endpoint"
    echo "GET /nope 404 0 $(size_of "$BODY")" >>"$T/expected"
    # a client that goes away mid-body still gets its line (a 4xx: the request did not finish)
    python3 - "$PORT" "$D" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(("POST /v2/logs/aborted/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: x\r\n"
           "Content-Length: 1000\r\n\r\n" % sys.argv[2]).encode() + b"x" * 300)
time.sleep(0.5)
s.close()
EOF
    echo "POST /v2/logs/aborted/blobs/uploads/ 4xx 300 0" >>"$T/expected"
    rm -f "$T/slow.started"
    local st
    st=$(slow_http POST "/v2/$REPO/blobs/uploads/?digest=$SLOW_D" $SLOW_SIZE 1.2)
    expect_eq "$st" 201 "slow upload"
    echo "POST /v2/$REPO/blobs/uploads/ 201 $SLOW_SIZE 0 slow" >>"$T/expected"
}

# check_access FORMAT LOG: the access lines of LOG match $T/expected exactly.
check_access() {
    python3 - "$1" "$2" "$T/expected" <<'EOF'
import json, re, sys
fmt, logf, expf = sys.argv[1:4]
def die(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)
text_re = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) info  \[([0-9a-f]{16})\] "
                     r"(\S+) ([A-Z]+) (\S+) (\d{3}) in=(\d+) out=(\d+) (\d+\.\d+)ms$")
entries = []
for n, line in enumerate(open(logf).read().split("\n")[:-1], 1):
    if fmt == "json":
        try:
            o = json.loads(line)
        except ValueError:
            die("line %d is not JSON: %r" % (n, line[:200]))
        if not isinstance(o, dict) or not all(isinstance(o.get(k), str) for k in ("time", "level", "msg")):
            die("line %d lacks time/level/msg: %r" % (n, line[:200]))
        if o["msg"] != "access":
            continue
        for k, t in (("request_id", str), ("method", str), ("path", str), ("status", int),
                     ("bytes_in", int), ("bytes_out", int), ("duration_ms", (int, float)),
                     ("remote", str)):
            if not isinstance(o.get(k), t) or isinstance(o.get(k), bool):
                die("line %d: field %s missing or of the wrong type: %r" % (n, k, line[:200]))
        if o["level"] != "info" or not re.match(r"^[0-9a-f]{16}$", o["request_id"]):
            die("line %d: level or request_id: %r" % (n, line[:200]))
        entries.append((o["request_id"], o["remote"], o["method"], o["path"], o["status"],
                        o["bytes_in"], o["bytes_out"], float(o["duration_ms"])))
    else:
        if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info |warn |error) ", line):
            die("line %d does not start with a timestamp and level: %r" % (n, line[:200]))
        if " 127.0.0.1 " not in line:
            continue
        m = text_re.match(line)
        if not m:
            die("line %d is not a well-formed access line: %r" % (n, line[:200]))
        entries.append((m.group(2), m.group(3), m.group(4), m.group(5), int(m.group(6)),
                        int(m.group(7)), int(m.group(8)), float(m.group(9))))
# the readiness probe of start_berth comes first
if entries and entries[0][2:5] == ("GET", "/v2/", 200):
    entries = entries[1:]
expected = [ln.split() for ln in open(expf).read().split("\n") if ln]
if len(entries) != len(expected):
    die("%d access lines, want %d: %r" % (len(entries), len(expected), [e[2:5] for e in entries]))
ids = [e[0] for e in entries]
if len(set(ids)) != len(ids):
    die("request ids repeat: %r" % ids)
left = list(entries)
for exp in expected:
    method, path, status, bin_, bout = exp[0], exp[1], exp[2], int(exp[3]), int(exp[4])
    def status_ok(st):
        return 400 <= st < 500 if status == "4xx" else st == int(status)
    match = [e for e in left if e[2:4] == (method, path) and status_ok(e[4]) and e[5:7] == (bin_, bout)]
    if not match:
        die("no access line for %r; have %r" % (exp, [e[2:7] for e in left]))
    e = match[0]
    left.remove(e)
    if e[1] != "127.0.0.1":
        die("remote address %r" % e[1])
    if e[7] < 0 or e[7] > 60000:
        die("duration %r of %r" % (e[7], exp))
    if "slow" in exp and e[7] < 1000:
        die("the slow upload took over a second but its duration is %r ms" % e[7])
print("%d access lines checked" % len(entries))
EOF
}

# stop_and_log: stops the server (a graceful stop drains, so every access line is written)
# and sets log to the path of its log.
stop_and_log() {
    stop_berth
    log=$(ls -t "$T"/berth.*.log | head -n 1)
}

no_secrets() {
    local s
    for s in SECRET123 SECRET456 SECRETPW789 "$BASIC" token= access_token; do
        if grep -qF -- "$s" "$T"/berth*.log; then
            fail "'$s' appears in the log: $(grep -hF -- "$s" "$T"/berth*.log | head -n 2)"
        fi
    done
}

# ---- text ----
start_berth
run_requests
stop_and_log
out=$(check_access text "$log") || fail "text access log"
ok "text: one access line per request with id, remote, method, path, status, in/out bytes, duration ($out)"
no_secrets
ok "text: no query string, Bearer token or Basic credentials in the log"

# ---- JSON ----
start_berth --log-format json
run_requests
stop_and_log
out=$(check_access json "$log") || fail "JSON access log"
jq -e 'type == "object"' "$log" >/dev/null || fail "jq cannot parse every line of the JSON log"
[ "$(jq -c . "$log" | wc -l)" = "$(wc -l <"$log")" ] || fail "the JSON log is not one object per line"
ok "json: every line parses with jq; access objects have request_id, method, path, status, bytes_in, bytes_out, duration_ms ($out)"
no_secrets
ok "json: no query string, Bearer token or Basic credentials in the log"

# ---- --log-level warn: no access lines, warnings still come ----
port=$(free_port)
spawn_berth "$T/berth.log" "$port" --listen "127.0.0.1:$port" --data-dir "$DATA" \
    --log-level warn --drain-timeout 0 || fail "berth --log-level warn did not start"
warn_pid=$SPAWN_PID
PORT=$port URL=http://127.0.0.1:$port
req GET "/v2/"
expect_status 200 "GET /v2/ at warn level"
req GET "/v2/$REPO/blobs/$D"
expect_status 200 "GET blob at warn level"
req GET "/v2/logs/none/tags/list"
expect_status 404 "404 at warn level"
rm -f "$T/slow.started"
slow_http POST "/v2/$REPO/blobs/uploads/?digest=$SLOW_D" $SLOW_SIZE 1 stall:30 >/dev/null &
staller=$!
BG_PIDS+=("$staller")
half() { grep -q half "$T/slow.started" 2>/dev/null; }
wait_until 30 half || fail "the stalling client did not get half its body out"
received() { [ "$(upload_bytes)" -gt 0 ]; }
wait_until 30 received || fail "the server did not receive the stalled body"
rc=0
kill -TERM "$warn_pid"
wait "$warn_pid" || rc=$?
wait "$staller" 2>/dev/null || true
grep -q 'drain timeout' "$T/berth.log" || fail "the drain-timeout warning is missing at warn level"
expect_eq "$rc" 0 "exit status at warn level after the drain timeout"
if [ "$(grep -cv ' warn \| error ' "$T/berth.log")" -gt 0 ]; then
    fail "lines below warn at --log-level warn: $(grep -v ' warn \| error ' "$T/berth.log" | head -n 3)"
fi
ok "--log-level warn: no access or info lines, the drain-timeout warning still appears"
mv "$T/berth.log" "$T/berth.warn.log"

# ---- a client cannot forge or break log lines ----
# (every case runs and reports before the test fails, so one defect does not hide another)
broken=()
for fmt in text json; do
    start_berth --log-format "$fmt"
    req GET "/v2/x%0a2024-01-01T00:00:00.000Z%20info%20%20FORGED/tags/list"
    long=$(head -c 3000 /dev/zero | tr '\0' a)
    req GET "/v2/$long/tags/list"
    expect_error 400 NAME_INVALID "very long repository name"
    req GET "/v2/"
    expect_status 200 "GET /v2/ after the long path"
    stop_and_log
    if grep -q '^FORGED\|^2024-01-01T00:00:00.000Z' "$log"; then
        broken+=("$fmt: a %0a in the path forged a log line: $(grep 'FORGED' "$log" | head -n 1)")
        echo "not ok - ${broken[-1]}"
    else
        ok "$fmt: a newline in the path cannot forge a log line"
    fi
    if ! why=$(python3 - "$fmt" "$log" 2>&1 <<'EOF'

import json, re, sys
fmt, logf = sys.argv[1:3]
data = open(logf).read()
if not data.endswith("\n"):
    sys.exit("the log does not end with a newline")
n_v2 = 0
for n, line in enumerate(data.split("\n")[:-1], 1):
    if fmt == "json":
        try:
            o = json.loads(line)
        except ValueError:
            sys.exit("line %d is not JSON (%d chars): %r..." % (n, len(line), line[:120]))
        if o.get("msg") == "access" and o.get("path") == "/v2/":
            n_v2 += 1
    else:
        if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info |warn |error) ", line):
            sys.exit("line %d does not start with a timestamp: %r" % (n, line[:120]))
        if re.search(r"\] 127\.0\.0\.1 GET /v2/ 200 in=0 out=2 [0-9.]+ms$", line):
            n_v2 += 1
        if line.count(" 127.0.0.1 ") > 1:
            sys.exit("line %d holds two access lines (%d chars)" % (n, len(line)))
if n_v2 != 2:
    sys.exit("want 2 separate access lines for GET /v2/ (probe and the request after the long path), got %d" % n_v2)
EOF
    ); then
        broken+=("$fmt: a 3000-character path breaks the log: $why")
        echo "not ok - ${broken[-1]}"
    else
        ok "$fmt: a 3000-character path leaves every log line whole and separate"
    fi
done
[ ${#broken[@]} -eq 0 ] || fail "${#broken[@]} log-integrity defects: $(printf '%s; ' "${broken[@]}")"
