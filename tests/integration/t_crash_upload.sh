#!/usr/bin/env bash
# kill -9 during blob uploads. Everything acknowledged before the kill is served after the
# restart; the upload cut short leaves nothing visible; a chunked session resumes at its last
# acknowledged chunk; fsck is clean on the crashed data directory and afterwards.
. "$(dirname "$0")/lib.sh"
. "$HERE/lib_ops.sh"
start_berth

REPO=crash/uploads
mkdir -p "$T/b"

# gen SEED BYTES: deterministic pseudo-random bytes (AES-CTR keystream) on stdout.
gen() {
    { openssl enc -aes-128-ctr -nosalt -K "$(printf '%032x' "$1")" -iv 0 -in /dev/zero 2>/dev/null ||
        true; } | head -c "$2"
}

# ---- 1. acknowledged content: small blobs and a manifest ----
printf '{}' >"$T/b/config.json"
head -c 1000 /dev/urandom >"$T/b/l1"
head -c 65537 /dev/urandom >"$T/b/l2"
head -c $((2 * 1024 * 1024 + 5)) /dev/urandom >"$T/b/l3"
for f in config.json l1 l2 l3; do push_blob "$REPO" "$T/b/$f" >/dev/null; done
jq -cn --arg ed "$EMPTY_CONFIG_DIGEST" \
    --argjson a "$(descriptor application/octet-stream "$T/b/l1")" \
    --argjson b "$(descriptor application/octet-stream "$T/b/l2")" \
    --argjson c "$(descriptor application/octet-stream "$T/b/l3")" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      artifactType: "application/vnd.example.crash",
      config: {mediaType: "application/vnd.oci.empty.v1+json", digest: $ed, size: 2},
      layers: [$a, $b, $c]}' >"$T/b/manifest.json"
mdigest=$(push_manifest "$REPO" v1 "$T/b/manifest.json" "$OCI_MANIFEST")
acked_blobs=4
expect_eq "$(blob_files)" "$acked_blobs" "committed blob files before the crash"
ok "4 blobs and a manifest acknowledged"

verify_acked() {
    pull_manifest_cmp "$REPO" v1 "$T/b/manifest.json" "$OCI_MANIFEST"
    pull_manifest_cmp "$REPO" "$mdigest" "$T/b/manifest.json" "$OCI_MANIFEST"
    local f
    for f in config.json l1 l2 l3; do pull_blob_cmp "$REPO" "$T/b/$f"; done
}

# ---- 2. kill -9 during a 300 MiB monolithic upload ----
BIG=$((300 * 1024 * 1024))
big_digest="sha256:$(gen 1 $BIG | sha256sum | cut -d' ' -f1)"
(gen 1 $BIG | curl -s -o /dev/null -w '%{http_code}' --limit-rate 32M -X POST -T - \
    -H 'Content-Type: application/octet-stream' -H "Content-Length: $BIG" \
    "$URL/v2/$REPO/blobs/uploads/?digest=$big_digest" >"$T/mono.status" 2>/dev/null || true) &
mono_pid=$!
BG_PIDS+=("$mono_pid")
more_than_4mib() { [ "$(upload_bytes)" -gt $((4 * 1024 * 1024)) ]; }
wait_until 30 more_than_4mib || fail "the monolithic upload never reached 4 MiB on disk"
kill -0 "$mono_pid" 2>/dev/null || fail "the monolithic upload finished before the kill"
arrived=$(upload_bytes)
kill9_berth
wait "$mono_pid" || true
[ "$(cat "$T/mono.status" 2>/dev/null)" != 201 ] || fail "the killed upload was acknowledged"
ok "berth killed with -9 after $arrived of $BIG bytes of a monolithic upload arrived"

fsck_clean
ok "fsck is clean on the crashed data directory"
start_berth
verify_acked
ok "after the restart the manifest and all 4 blobs are served byte-identical"
req HEAD "/v2/$REPO/blobs/$big_digest"
expect_status 404 "HEAD of the killed upload's blob"
req GET "/v2/$REPO/blobs/$big_digest"
expect_error 404 BLOB_UNKNOWN "GET of the killed upload's blob"
expect_eq "$(blob_files)" "$acked_blobs" "committed blob files after the crash"
ok "the killed upload's blob does not exist, and no other blob file appeared"

# ---- 3. chunked session: 2 acknowledged chunks, kill -9 during the 3rd ----
head -c $((1024 * 1024 + 7)) /dev/urandom >"$T/b/c1"
head -c $((512 * 1024 + 3)) /dev/urandom >"$T/b/c2"
gen 2 $((32 * 1024 * 1024)) >"$T/b/c3"
cat "$T/b/c1" "$T/b/c2" "$T/b/c3" >"$T/b/chunked"
n1=$(size_of "$T/b/c1")
n2=$(size_of "$T/b/c2")
n3=$(size_of "$T/b/c3")
chunked_digest=$(sha256_of "$T/b/chunked")

req POST "/v2/$REPO/blobs/uploads/"
expect_status 202 "open chunked session"
loc=$(hdr Location)
id=${loc##*/}
req PATCH "$loc" --data-binary @"$T/b/c1" -H 'Content-Type: application/octet-stream' \
    -H "Content-Range: 0-$((n1 - 1))"
expect_status 202 "chunk 1"
expect_hdr Range "0-$((n1 - 1))" "Range after chunk 1"
loc=$(hdr Location)
req PATCH "$loc" --data-binary @"$T/b/c2" -H 'Content-Type: application/octet-stream' \
    -H "Content-Range: $n1-$((n1 + n2 - 1))"
expect_status 202 "chunk 2"
expect_hdr Range "0-$((n1 + n2 - 1))" "Range after chunk 2"
loc=$(hdr Location)
ok "two chunks acknowledged (Range 0-$((n1 + n2 - 1)))"

(curl -s -o /dev/null -w '%{http_code}' --limit-rate 4M -X PATCH --data-binary @"$T/b/c3" \
    -H 'Content-Type: application/octet-stream' -H "Content-Range: $((n1 + n2))-$((n1 + n2 + n3 - 1))" \
    "$URL$loc" >"$T/c3.status" 2>/dev/null || true) &
c3_pid=$!
BG_PIDS+=("$c3_pid")
third_arriving() { [ "$(size_of "$DATA/uploads/$id")" -gt $((n1 + n2 + 1024 * 1024)) ]; }
wait_until 30 third_arriving || fail "chunk 3 never reached 1 MiB on disk"
kill -0 "$c3_pid" 2>/dev/null || fail "chunk 3 finished before the kill"
kill9_berth
wait "$c3_pid" || true
[ "$(cat "$T/c3.status" 2>/dev/null)" != 202 ] || fail "the killed chunk was acknowledged"
ok "berth killed with -9 while chunk 3 was arriving"

fsck_clean
ok "fsck is clean on the crashed data directory (an upload longer than its offset is fine)"
start_berth
verify_acked
req GET "$loc"
expect_status 204 "upload status after the restart"
expect_hdr Range "0-$((n1 + n2 - 1))" "Range after the restart"
expect_hdr Docker-Upload-UUID "$id" "upload id after the restart"
ok "after the restart the session shows exactly the 2 acknowledged chunks"

# a chunk that does not start at the acknowledged offset is refused
req PATCH "$loc" --data-binary @"$T/b/c3" -H 'Content-Type: application/octet-stream' \
    -H "Content-Range: $((n1 + n2 + 10))-$((n1 + n2 + n3 + 9))"
expect_status 416 "chunk at the wrong offset"
expect_hdr Range "0-$((n1 + n2 - 1))" "Range in the 416"
req PATCH "$loc" --data-binary @"$T/b/c3" -H 'Content-Type: application/octet-stream' \
    -H "Content-Range: $((n1 + n2))-$((n1 + n2 + n3 - 1))"
expect_status 202 "chunk 3 re-sent"
expect_hdr Range "0-$((n1 + n2 + n3 - 1))" "Range after chunk 3"
loc=$(hdr Location)
req PUT "$loc?digest=$chunked_digest"
expect_status 201 "close the session"
expect_hdr Docker-Content-Digest "$chunked_digest" "digest of the completed blob"
pull_blob_cmp "$REPO" "$T/b/chunked"
ok "chunk 3 re-sent; the blob completes with digest $chunked_digest, byte-identical"

# no leftovers from the completed session
req GET "$loc"
expect_error 404 BLOB_UPLOAD_UNKNOWN "status of the completed session"
[ ! -e "$DATA/uploads/$id" ] || fail "the completed session left its upload file"
ok "the completed session is gone"

# ---- 4. kill -9 while many small blob uploads complete ----
mkdir -p "$T/many"
python3 - "$T/many" <<'EOF'
import os, random, sys
r = random.Random(4)
for w in range(1, 4):
    for i in range(1, 61):
        with open("%s/%d-%d" % (sys.argv[1], w, i), "wb") as f:
            f.write(r.randbytes(r.randint(1, 200 * 1024)))
EOF
blob_writer() {
    local w=$1 i st d
    for i in $(seq 1 60); do
        d=$(sha256_of "$T/many/$w-$i")
        st=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$T/many/$w-$i" \
            -H 'Content-Type: application/octet-stream' \
            "$URL/v2/$REPO/blobs/uploads/?digest=$d" 2>/dev/null) || st=000
        echo "$w-$i $st" >>"$T/many.results"
        [ "$st" != 000 ] || break
    done
}
pids=()
for w in 1 2 3; do
    blob_writer "$w" &
    pids+=($!)
    BG_PIDS+=($!)
done
acked() { [ "$(grep -c ' 201$' "$T/many.results" 2>/dev/null || true)" -ge 15 ]; }
wait_until 30 acked || fail "the blob writers got too few answers"
sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
running=0
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
[ "$running" -gt 0 ] || fail "every blob writer finished before the kill"
kill9_berth
for p in "${pids[@]}"; do wait "$p" || true; done
ok "berth killed with -9 while $running writers were uploading ($(grep -c ' 201$' "$T/many.results") blobs acknowledged)"
fsck_clean
start_berth
out=$(python3 - "$PORT" "$REPO" "$T/many" "$T/many.results" <<'EOF'
import hashlib, http.client, sys
port, repo, d, res = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
status = {}
for ln in open(res).read().split("\n"):
    if ln:
        name, st = ln.split()
        status[name] = st
acked = landed = 0
for w in range(1, 4):
    done = [int(n.split("-")[1]) for n in status if n.startswith("%d-" % w)]
    for i in range(1, (max(done) if done else 0) + 2):
        name = "%d-%d" % (w, i)
        try:
            want = open("%s/%s" % (d, name), "rb").read()
        except FileNotFoundError:
            continue
        dg = "sha256:" + hashlib.sha256(want).hexdigest()
        conn.request("GET", "/v2/%s/blobs/%s" % (repo, dg))
        r = conn.getresponse()
        body = r.read()
        if status.get(name) == "201":
            acked += 1
            if r.status != 200 or body != want:
                sys.exit("blob %s was acknowledged but GET answers %d (%d bytes)" % (name, r.status, len(body)))
        elif r.status == 200:
            landed += 1
            if body != want:
                sys.exit("unacknowledged blob %s is served but differs" % name)
        elif r.status != 404:
            sys.exit("unacknowledged blob %s: GET answers %d" % (name, r.status))
print("%d acknowledged blobs served byte-identical, %d unacknowledged ones landed whole" % (acked, landed))
EOF
) || fail "blobs after the crash: $out"
verify_acked
ok "after the restart: $out"

stop_berth
fsck_clean
ok "fsck is clean afterwards"
