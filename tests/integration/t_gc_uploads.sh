#!/usr/bin/env bash
# Abandoned upload sessions expire after --upload-ttl: row and temp file go, by `berth gc` and
# by the server's background runs. A recent session survives and completes; a session whose
# row is old but whose file is still being written survives; a session a request of the server
# is on right now survives the server's own runs; upload files without a session expire by
# their age; names the server never generates are left alone.
#
# Idle time is simulated, not waited for: the session row's updated_at is moved back in the
# database and the file's mtime with touch -d.
. "$(dirname "$0")/lib.sh"
. "$HERE/lib_ops.sh"

REPO=gc/uploads
TTL=60

# age_session ID: the session was last updated two hours ago.
age_session() {
    python3 - "$DATA/meta.db" "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
with db:
    n = db.execute("UPDATE uploads SET updated_at = updated_at - 7200 WHERE id = ?", (sys.argv[2],)).rowcount
if n != 1:
    sys.exit("no session %s" % sys.argv[2])
EOF
}
age_file() { touch -d '2 hours ago' "$DATA/uploads/$1"; }

# open_session: POST + one PATCH of 1000 bytes; prints "LOCATION ID".
open_session() {
    local loc
    req POST "/v2/$REPO/blobs/uploads/"
    expect_status 202 "open session"
    loc=$(hdr Location)
    head -c 1000 /dev/urandom >"$T/chunk"
    req PATCH "$loc" --data-binary @"$T/chunk" -H 'Content-Type: application/octet-stream' \
        -H 'Content-Range: 0-999'
    expect_status 202 "PATCH"
    loc=$(hdr Location)
    mv "$T/chunk" "$T/chunk.${loc##*/}"
    echo "$loc ${loc##*/}"
}

expect_session() { # expect_session LOC ID what
    req GET "$1"
    expect_status 204 "$3: upload status"
    expect_hdr Range "0-999" "$3: Range"
    [ -f "$DATA/uploads/$2" ] || fail "$3: the upload file is gone"
}

expect_expired() { # expect_expired LOC ID what
    req GET "$1"
    expect_error 404 BLOB_UPLOAD_UNKNOWN "$3: upload status"
    [ ! -e "$DATA/uploads/$2" ] || fail "$3: the upload file is still there"
}

gc_cli() { "$BERTH_BIN" gc --data-dir "$DATA" --upload-ttl "$TTL" "$@"; }

# ---- 1. berth gc beside a server without background runs ----
start_berth --gc-interval 0 --upload-ttl "$TTL"
read -r loc_old id_old < <(open_session)
read -r loc_new id_new < <(open_session)
read -r loc_busy id_busy < <(open_session)
age_session "$id_old"
age_file "$id_old"
# A long PATCH writes its file without touching the row: old row, fresh file.
age_session "$id_busy"
# An upload file no session knows, old; and a file whose name the server never generates.
head -c 500 /dev/urandom >"$DATA/uploads/0123456789abcdef0123456789abcdef"
age_file 0123456789abcdef0123456789abcdef
echo keep >"$DATA/uploads/NOTES.txt"
touch -d '2 hours ago' "$DATA/uploads/NOTES.txt"

out=$(gc_cli --dry-run) || fail "gc --dry-run failed: $out"
expect_eq "$out" "gc (dry run): would reclaim 0 blobs (0 bytes), remove 0 unreferenced links, expire 1 upload session, remove 1 orphaned file" "dry run"
expect_session "$loc_old" "$id_old" "abandoned session after the dry run"
[ -f "$DATA/uploads/0123456789abcdef0123456789abcdef" ] || fail "the dry run removed the stray upload file"
out=$(gc_cli) || fail "gc failed: $out"
expect_eq "$out" "gc: reclaimed 0 blobs (0 bytes), removed 0 unreferenced links, expired 1 upload session, removed 1 orphaned file" "gc"
expect_expired "$loc_old" "$id_old" "abandoned session"
[ ! -e "$DATA/uploads/0123456789abcdef0123456789abcdef" ] || fail "the stray upload file is still there"
[ -f "$DATA/uploads/NOTES.txt" ] || fail "gc removed a file the server did not create"
ok "berth gc expired the abandoned session (row and file) and the stray upload file: $out"

expect_session "$loc_new" "$id_new" "recent session"
expect_session "$loc_busy" "$id_busy" "session with an old row and a fresh file"
ok "a recent session and one whose file is still being written survive"

# The survivors still work: the recent one completes into a blob.
head -c 1000 /dev/urandom >"$T/chunk2"
req PATCH "$loc_new" --data-binary @"$T/chunk2" -H 'Content-Type: application/octet-stream' \
    -H 'Content-Range: 1000-1999'
expect_status 202 "PATCH the recent session"
loc_new=$(hdr Location)
cat "$T/chunk.$id_new" "$T/chunk2" >"$T/whole"
req PUT "$loc_new?digest=$(sha256_of "$T/whole")"
expect_status 201 "finish the recent session"
pull_blob_cmp "$REPO" "$T/whole"
[ ! -e "$DATA/uploads/$id_new" ] || fail "the finished session left its upload file"
ok "the surviving session takes another chunk and completes into a byte-identical blob"

# Once the busy session's file is old too, it is abandoned like the first.
age_file "$id_busy"
out=$(gc_cli) || fail "gc failed: $out"
expect_eq "$out" "gc: reclaimed 0 blobs (0 bytes), removed 0 unreferenced links, expired 1 upload session, removed 0 orphaned files" "gc after the file aged"
expect_expired "$loc_busy" "$id_busy" "session whose file aged"
ok "the session expires once its file is old as well"
stop_berth

# ---- 2. the server's background runs, and a request in progress ----
start_berth --gc-interval 1 --upload-ttl "$TTL"
gc_runs() { grep -c 'gc: reclaimed' "$T/berth.log" || true; }
# wait_gc_runs N: until N more background runs have logged their line.
wait_gc_runs() {
    local target=$(($(gc_runs) + $1))
    enough() { [ "$(gc_runs)" -ge "$target" ]; }
    wait_until 60 enough || fail "the background gc did not run $1 more times"
}

read -r loc_a id_a < <(open_session)
read -r loc_keep id_keep < <(open_session)
# A PATCH that stalls halfway (the client is still sending): the server is on this session.
req POST "/v2/$REPO/blobs/uploads/"
expect_status 202 "open the stalled session"
loc_s=$(hdr Location)
id_s=${loc_s##*/}
slow_http PATCH "$loc_s" 4000 1 "gate:$T/go" >"$T/slow.status" &
slow_pid=$!
BG_PIDS+=("$slow_pid")
half() { grep -q half "$T/slow.started" 2>/dev/null; }
wait_until 30 half || fail "the stalled PATCH never got halfway"

age_session "$id_a"
age_file "$id_a"
age_session "$id_s"
age_file "$id_s"
wait_gc_runs 2
expect_expired "$loc_a" "$id_a" "abandoned session (background gc)"
expect_session "$loc_keep" "$id_keep" "recent session (background gc)"
[ -f "$DATA/uploads/$id_s" ] || fail "the background gc removed the file of a PATCH in progress"
grep -q 'gc: reclaimed 0 blobs (0 bytes), removed 0 unreferenced links, expired 1 upload session' "$T/berth.log" ||
    fail "no background gc run logged the expired session"
ok "the background gc expired the abandoned session, logged it, and left the recent one and the one being written"

touch "$T/go"
wait "$slow_pid" || true
expect_eq "$(cat "$T/slow.status")" 202 "the stalled PATCH, finished after the gc runs"
req GET "$loc_s"
expect_status 204 "status of the session that was being written"
expect_hdr Range "0-3999" "Range of the session that was being written"
ok "the PATCH in progress completed after the background runs"

stop_berth
fsck_clean
ok "fsck is clean afterwards"
