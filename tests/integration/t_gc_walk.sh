#!/usr/bin/env bash
# A blob file without a metadata row (left by a crash between an upload's hard link and its
# row) is found only by walking every blob file, so a gc pass walks only when one may exist:
# once on a new or migrated store, after a server stopped uncleanly (kill -9), or when asked
# (`berth gc --walk-files`). After a clean stop, and otherwise, a pass does not walk, and a
# file planted by hand stays until something asks.
. "$(dirname "$0")/lib.sh"
. "$HERE/lib_ops.sh"
start_berth --gc-interval 0

printf 'a layer' >"$T/layer"
push_blob walk/app "$T/layer" >/dev/null

# plant TEXT: an old blob file with no row, under its digest; its path on stdout.
plant() {
    local d
    d=$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)
    mkdir -p "$DATA/blobs/sha256/${d:0:2}"
    printf '%s' "$1" >"$DATA/blobs/sha256/${d:0:2}/$d"
    touch -d '3 days ago' "$DATA/blobs/sha256/${d:0:2}/$d"
    echo "$DATA/blobs/sha256/${d:0:2}/$d"
}
gc_files() { # gc_files [gc options]: the orphaned-files count of one pass beside the server
    local out
    out=$("$BERTH_BIN" gc --data-dir "$DATA" "$@") || fail "gc $* failed: $out"
    sed -n 's/.* \([0-9]*\) orphaned files*$/\1/p' <<<"$out"
}

p=$(plant 'before the first pass')
expect_eq "$(gc_files --dry-run)" 1 "a new store: a dry run walks"
expect_eq "$(gc_files)" 1 "a new store: the first pass walks"
[ ! -e "$p" ] || fail "the first pass left the orphaned file"
ok "the first pass of a new store walks the blob files and removes an orphaned one"

p=$(plant 'planted while the server runs')
expect_eq "$(gc_files)" 0 "a pass nothing asked to walk"
[ -e "$p" ] || fail "a pass that did not walk removed a file"
expect_eq "$(gc_files --walk-files --dry-run)" 1 "gc --walk-files --dry-run"
[ -e "$p" ] || fail "a dry run removed a file"
expect_eq "$(gc_files --walk-files)" 1 "gc --walk-files"
[ ! -e "$p" ] || fail "gc --walk-files left the orphaned file"
ok "later passes do not walk; --walk-files does"

p=$(plant 'left by a crash')
kill9_berth
start_berth --gc-interval 0
grep -q 'the previous server did not stop cleanly' "$T/berth.log" ||
    fail "the restart after kill -9 did not notice: $(cat "$T/berth.log")"
expect_eq "$(gc_files)" 1 "the first pass after a restart that followed kill -9"
[ ! -e "$p" ] || fail "the pass after the crash left the orphaned file"
expect_eq "$(gc_files)" 0 "the second pass after the crash"
ok "after kill -9 the restarted server asks for a walk, and the next pass removes the file"

p=$(plant 'planted before a clean stop')
stop_berth
start_berth --gc-interval 0
if grep -q 'did not stop cleanly' "$T/berth.log"; then fail "a clean stop was taken for a crash"; fi
expect_eq "$(gc_files)" 0 "a pass after a clean stop and restart"
[ -e "$p" ] || fail "a pass that did not walk removed a file"
expect_eq "$(gc_files --walk-files)" 1 "gc --walk-files after the clean restart"
ok "after a clean stop nothing asks for a walk"

req GET "/v2/walk/app/blobs/$(sha256_of "$T/layer")"
expect_status 200 "the pushed layer"
stop_berth
fsck_clean
ok "the pushed layer is served throughout; fsck is clean"
