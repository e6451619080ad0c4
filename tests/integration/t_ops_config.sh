#!/usr/bin/env bash
# Configuration: --help and version; flags, environment and config file with the documented
# precedence (flag > environment > config file > default); bad values exit non-zero with a
# message; one data directory serves one process; --auto-create-repos=false.
. "$(dirname "$0")/lib.sh"
. "$HERE/lib_ops.sh"

mkdir -p "$T/cwd"
cd "$T/cwd"

# ---- help and version ----
rc=0
"$BERTH_BIN" serve --help >"$T/help.out" 2>"$T/help.err" || rc=$?
expect_eq "$rc" 0 "exit status of serve --help"
for w in --listen --data-dir BERTH_LISTEN BERTH_DATA_DIR --config --log-format --log-level \
    --drain-timeout --auto-create-repos; do
    grep -q -- "$w" "$T/help.out" || fail "serve --help does not mention $w"
done
[ ! -e "$T/cwd/berth-data" ] || fail "serve --help created a data directory"
ok "serve --help lists listen, data-dir and their env names BERTH_LISTEN, BERTH_DATA_DIR; creates nothing"
for v in version --version; do
    out=$("$BERTH_BIN" $v) || fail "berth $v exited non-zero"
    echo "$out" | grep -Eq '^berth [0-9]+\.[0-9]+\.[0-9]+' || fail "berth $v printed '$out'"
done
ok "berth version prints '$out'"
rc=0
"$BERTH_BIN" frobnicate >/dev/null 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] || fail "an unknown command exited 0"
grep -q frobnicate "$T/err" || fail "no message for an unknown command"
ok "an unknown command exits $rc with a message"

# serve_check NAME PORT EXPECTED_DATA_DIR [env...] -- [serve options...]: starts berth with the
# given environment and options, checks it answers on PORT and that meta.db appears in the
# expected directory, then stops it (exit 0).
serve_check() {
    local name=$1 port=$2 dir=$3
    shift 3
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    local log=$T/berth.$name.log rc=0
    env "${envs[@]}" "$BERTH_BIN" serve "$@" >>"$log" 2>&1 &
    local pid=$!
    SPAWN_PIDS+=("$pid")
    up() { curl -s -o /dev/null "http://127.0.0.1:$port/v2/"; }
    if ! wait_until 10 up; then
        kill -KILL "$pid" 2>/dev/null || true
        fail "$name: berth did not answer on $port: $(tail -n 3 "$log")"
    fi
    [ -f "$dir/meta.db" ] || fail "$name: no meta.db in $dir"
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    expect_eq "$rc" 0 "$name: exit status after SIGTERM"
}

# ---- environment ----
p=$(free_port)
serve_check env "$p" "$T/envdata" BERTH_DATA_DIR="$T/envdata" BERTH_LISTEN="127.0.0.1:$p" --
ok "BERTH_DATA_DIR and BERTH_LISTEN are honoured (meta.db in \$T/envdata)"

# ---- config file ----
p=$(free_port)
cat >"$T/berth.conf" <<EOF
# berth settings
listen = 127.0.0.1:$p

data-dir = "$T/cfgdata"
log-format = json
drain-timeout = 5
EOF
serve_check cfgflag "$p" "$T/cfgdata" -- --config "$T/berth.conf"
jq -e . "$T/berth.cfgflag.log" >/dev/null || fail "log-format = json from the config file not applied"
ok "--config FILE: listen, quoted data-dir and log-format are honoured"
rm -rf "$T/cfgdata"
serve_check cfgenv "$p" "$T/cfgdata" BERTH_CONFIG="$T/berth.conf" --
ok "BERTH_CONFIG names the config file too"

# ---- precedence ----
p=$(free_port)
serve_check prec1 "$p" "$T/flagdata" BERTH_DATA_DIR="$T/envdata2" -- \
    --config "$T/berth.conf" --listen "127.0.0.1:$p" --data-dir "$T/flagdata"
[ ! -e "$T/envdata2" ] || fail "the env data dir was created although a flag overrides it"
ok "a flag overrides the environment and the config file"
p=$(free_port)
serve_check prec2 "$p" "$T/envdata3" BERTH_DATA_DIR="$T/envdata3" BERTH_LISTEN="127.0.0.1:$p" -- \
    --config "$T/berth.conf"
ok "the environment overrides the config file"
p=$(free_port)
serve_check prec3 "$p" "$T/eqdata" -- --listen="127.0.0.1:$p" --data-dir="$T/eqdata"
ok "--name=value works like --name value"

# ---- bad values: non-zero exit, a message naming the problem, no server ----
printf 'listen = 127.0.0.1:0\nfrobnicate = 1\n' >"$T/bad.conf"
printf 'listen 127.0.0.1:0\n' >"$T/bad2.conf"
bad() { # bad WHAT MESSAGE_REGEX [env...] -- [options...]
    local what=$1 re=$2 rc=0
    shift 2
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    env "${envs[@]}" timeout 10 "$BERTH_BIN" serve "$@" >"$T/bad.out" 2>"$T/bad.err" || rc=$?
    [ "$rc" -ne 0 ] || fail "$what: exited 0"
    [ "$rc" -ne 124 ] || fail "$what: still running after 10 s (it started serving)"
    grep -Eq -- "$re" "$T/bad.err" || fail "$what: message '$(head -c 300 "$T/bad.err")' does not match /$re/"
    echo "    $what: exit $rc: $(head -n 1 "$T/bad.err" | cut -c1-110)"
}
L=(--listen 127.0.0.1:0 --data-dir "$T/baddata")
bad "unknown option" "frobnicate" -- "${L[@]}" --frobnicate
bad "listen without a port" "listen" -- --listen nonsense --data-dir "$T/baddata"
bad "listen port out of range" "listen" -- --listen 127.0.0.1:99999 --data-dir "$T/baddata"
bad "non-numeric size" "max-manifest-size" -- "${L[@]}" --max-manifest-size abc
bad "size below its minimum" "max-manifest-size" -- "${L[@]}" --max-manifest-size 10
bad "zero threads" "threads" -- "${L[@]}" --threads 0
bad "log format" "log-format" -- "${L[@]}" --log-format xml
bad "log level" "log-level" -- "${L[@]}" --log-level loud
bad "boolean" "auto-create-repos" -- "${L[@]}" --auto-create-repos=maybe
bad "missing value" "data-dir" -- --listen 127.0.0.1:0 --data-dir
bad "bad env value" "BERTH_DRAIN_TIMEOUT|drain-timeout" BERTH_DRAIN_TIMEOUT=soon -- "${L[@]}"
bad "empty data dir" "data-dir" -- --listen 127.0.0.1:0 --data-dir ""
bad "missing config file" "nope.conf" -- "${L[@]}" --config "$T/nope.conf"
bad "unknown config key" "bad.conf:2.*frobnicate" -- --config "$T/bad.conf" --data-dir "$T/baddata"
bad "config line without =" "bad2.conf:1" -- --config "$T/bad2.conf" --data-dir "$T/baddata"
bad "positional argument" "extra" -- "${L[@]}" extra
ok "bad values exit non-zero with a message naming the problem"

# ---- one data directory, one process ----
start_berth
printf 'hello' >"$T/hello"
d=$(push_blob one/repo "$T/hello")
p=$(free_port)
rc=0
timeout 10 "$BERTH_BIN" serve --listen "127.0.0.1:$p" --data-dir "$DATA" >"$T/second.out" 2>"$T/second.err" || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "a second server on the same data dir: exit $rc"
second_rc=$rc
grep -q 'in use' "$T/second.err" || fail "no 'in use' message: $(cat "$T/second.err")"
req HEAD "/v2/one/repo/blobs/$d"
expect_status 200 "the first server still serves"
rc=0
"$BERTH_BIN" fsck --data-dir "$DATA" >"$T/fsck.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "fsck ran while the server holds the data dir"
grep -q 'in use' "$T/fsck.out" || fail "fsck gives no 'in use' message: $(cat "$T/fsck.out")"
ok "a second server (exit $second_rc) and fsck (exit $rc) refuse a data dir in use; the first keeps serving"
stop_berth

# ---- --auto-create-repos=false ----
for form in "--auto-create-repos=false" "--auto-create-repos false" "env"; do
    if [ "$form" = env ]; then
        BERTH_AUTO_CREATE_REPOS=false start_berth
    else
        # shellcheck disable=SC2086
        start_berth $form
    fi
    req POST "/v2/missing/repo/blobs/uploads/"
    expect_error 404 NAME_UNKNOWN "$form: upload to a missing repository"
    req POST "/v2/missing/repo/blobs/uploads/?digest=$d" --data-binary @"$T/hello"
    expect_error 404 NAME_UNKNOWN "$form: monolithic upload to a missing repository"
    printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[]}' \
        "$OCI_MANIFEST" "$EMPTY_CONFIG_DIGEST" >"$T/m.json"
    req PUT "/v2/missing/repo/manifests/v1" --data-binary @"$T/m.json" -H "Content-Type: $OCI_MANIFEST"
    expect_error 404 NAME_UNKNOWN "$form: manifest to a missing repository"
    req POST "/v2/missing/repo/blobs/uploads/?mount=$d&from=one/repo"
    expect_error 404 NAME_UNKNOWN "$form: mount into a missing repository"
    req GET "/v2/_catalog"
    expect_eq "$(jq -r '.repositories | join(",")' "$BODY")" "one/repo" "$form: catalog"
    # an existing repository still takes pushes
    printf 'world' >"$T/world"
    push_blob one/repo "$T/world" >/dev/null
    stop_berth
    ok "$form: pushes to a missing repository fail with 404 NAME_UNKNOWN; existing ones work"
done

fsck_clean
ok "fsck is clean afterwards"

# ---- one port, one process: a second server on a busy port must not start ----
p=$(free_port)
spawn_berth "$T/berth.porta.log" "$p" --listen "127.0.0.1:$p" --data-dir "$T/porta" ||
    fail "the first server on port $p did not start"
first=$SPAWN_PID
rc=0
timeout 5 "$BERTH_BIN" serve --listen "127.0.0.1:$p" --data-dir "$T/portb" \
    >"$T/berth.portb.log" 2>&1 || rc=$?
for _ in 1 2 3 4 5 6 7 8; do curl -s -o /dev/null "http://127.0.0.1:$p/v2/"; done
stop_spawned "$first"
expect_eq "$SPAWN_RC" 0 "exit status of the first server"
if [ "$rc" -eq 124 ]; then
    fail "a second server (other data dir) started on busy port $p and shared it: the first answered $(grep -c 'GET /v2/ ' "$T/berth.porta.log") and the second $(grep -c 'GET /v2/ ' "$T/berth.portb.log") of 8 requests"
fi
[ "$rc" -ne 0 ] || fail "a second server on a busy port exited 0"
grep -q "$p" "$T/berth.portb.log" || fail "no message naming the busy address: $(cat "$T/berth.portb.log")"
ok "a second server on a busy port exits $rc with a message"
