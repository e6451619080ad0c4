#!/usr/bin/env bash
# kill -9 while manifest PUTs are in flight. Several curl loops push distinct manifests to
# fresh tags (and one loop keeps moving a shared tag); the server is killed at a random moment,
# three times. After each restart: every tag whose PUT got 201 is served with the right
# digest and bytes; a tag whose PUT got no answer is either absent or complete; the moving tag
# points at its last acknowledged manifest or at the one in flight; fsck is clean.
. "$(dirname "$0")/lib.sh"
. "$HERE/lib_ops.sh"
start_berth

REPO=crash/manifests
WRITERS=4
PER_WRITER=80
ROUNDS=3
mkdir -p "$T/m" "$T/res"

printf '{}' >"$T/config.json"
head -c 4096 /dev/urandom >"$T/layer"
cfg=$(push_blob "$REPO" "$T/config.json")
layer=$(push_blob "$REPO" "$T/layer")
expect_eq "$cfg" "$EMPTY_CONFIG_DIGEST" "config digest"

# distinct manifests: m/<round>-<writer>-<i>.json (writer L moves the tag "latest")
python3 - "$T/m" "$ROUNDS" "$WRITERS" "$PER_WRITER" "$cfg" "$layer" <<'EOF'
import json, sys
out, rounds, writers, per, cfg, layer = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
for r in range(1, rounds + 1):
    for w in [str(k) for k in range(1, writers + 1)] + ["L"]:
        for i in range(1, per + 1):
            m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                 "artifactType": "application/vnd.example.crash-test",
                 "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": cfg, "size": 2},
                 "layers": [{"mediaType": "application/octet-stream", "digest": layer, "size": 4096}],
                 "annotations": {"round": str(r), "writer": w, "seq": str(i)}}
            with open("%s/%d-%s-%d.json" % (out, r, w, i), "w") as f:
                json.dump(m, f, separators=(",", ":"))
EOF

# writer ROUND W: pushes its manifests to tags r<ROUND>-w<W>-<i> (W=L: all to "latest"),
# logging "<tag> <i> <status>" after each answer; stops at the first failed connection.
writer() {
    local round=$1 w=$2 i tag st
    for i in $(seq 1 "$PER_WRITER"); do
        if [ "$w" = L ]; then tag=latest; else tag=r$round-w$w-$i; fi
        st=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $OCI_MANIFEST" \
            --data-binary @"$T/m/$round-$w-$i.json" "$URL/v2/$REPO/manifests/$tag" 2>/dev/null) ||
            st=000
        echo "$tag $i $st" >>"$T/res/$round-$w"
        [ "$st" != 000 ] || break
    done
}

# verify ROUND: checks every round up to ROUND against the running server.
verify() {
    python3 - "$PORT" "$REPO" "$T/m" "$T/res" "$1" "$WRITERS" <<'EOF'
import hashlib, http.client, json, os, sys
port, repo, mdir, rdir, upto, writers = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
def get(tag):
    conn.request("GET", "/v2/%s/manifests/%s" % (repo, tag),
                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    r = conn.getresponse()
    return r.status, r.getheader("Docker-Content-Digest"), r.read()
def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()
def die(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)
acked = maybe = 0
attempted = set()
for r in range(1, upto + 1):
    for w in range(1, writers + 1):
        path = "%s/%d-%d" % (rdir, r, w)
        lines = open(path).read().split("\n") if os.path.exists(path) else []
        results = {}
        for ln in lines:
            if ln:
                tag, i, st = ln.split()
                results[int(i)] = (tag, st)
        # the PUT after the last logged one may have been in flight as well
        last = max(results) if results else 0
        for i in range(1, last + 2):
            fpath = "%s/%d-%d-%d.json" % (mdir, r, w, i)
            if not os.path.exists(fpath):
                continue
            want = open(fpath, "rb").read()
            tag, st = results.get(i, ("r%d-w%d-%d" % (r, w, i), "none"))
            attempted.add(tag)
            status, dg, body = get(tag)
            if st == "201":
                acked += 1
                if status != 200:
                    die("%s was acknowledged (201) but GET answers %d" % (tag, status))
                if body != want or dg != digest(want):
                    die("%s: served %s, pushed %s" % (tag, dg, digest(want)))
            else:
                if status == 200:
                    maybe += 1
                    if body != want or dg != digest(want):
                        die("%s (unacknowledged) is served but differs: %s" % (tag, dg))
                elif status != 404:
                    die("%s (unacknowledged): GET answers %d" % (tag, status))
# the moving tag: all its moves in order; it must point at the last acknowledged one or at a
# later one that got no answer (it was in flight at a kill)
moves = []
for r in range(1, upto + 1):
    path = "%s/%d-L" % (rdir, r)
    lines = [ln.split() for ln in open(path).read().split("\n") if ln] if os.path.exists(path) else []
    moves += [(r, int(i), st) for _, i, st in lines]
    done = {int(i) for _, i, _ in lines}
    nxt = max(done) + 1 if done else 1
    if os.path.exists("%s/%d-L-%d.json" % (mdir, r, nxt)):
        moves.append((r, nxt, "none"))
last_ok = max([k for k, m in enumerate(moves) if m[2] == "201"], default=-1)
allowed = {}
for k, (r, i, st) in enumerate(moves):
    if k == last_ok or (k > last_ok and st != "201"):
        allowed[digest(open("%s/%d-L-%d.json" % (mdir, r, i), "rb").read())] = (r, i)
status, dg, body = get("latest")
if status != 200:
    if last_ok >= 0:
        die("latest: GET answers %d after acknowledged moves" % status)
elif dg not in allowed or digest(body) != dg:
    die("latest points at %s, which is neither the last acknowledged move nor a later one" % dg)
# tags/list holds nothing that was never pushed
conn.request("GET", "/v2/%s/tags/list?n=10000" % repo)
r = conn.getresponse()
tags = json.loads(r.read())["tags"]
extra = [t for t in tags if t != "latest" and t not in attempted]
if extra:
    die("tags/list has tags nobody pushed: %s" % extra[:5])
print("%d acknowledged tags served correctly, %d unacknowledged PUTs landed whole" % (acked, maybe))
EOF
}

total_acked() { cat "$T"/res/* 2>/dev/null | grep -c ' 201$' || true; }

for round in $(seq 1 $ROUNDS); do
    pids=()
    for w in $(seq 1 $WRITERS) L; do
        writer "$round" "$w" &
        pids+=($!)
        BG_PIDS+=($!)
    done
    before=$(total_acked)
    enough() { [ "$(total_acked)" -ge $((before + 20)) ]; }
    wait_until 30 enough || fail "round $round: the writers got too few answers"
    # a random moment while the loops are still pushing
    sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
    running=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
    [ "$running" -gt 0 ] || fail "round $round: every writer finished before the kill"
    kill9_berth
    for p in "${pids[@]}"; do wait "$p" || true; done
    ok "round $round: berth killed with -9 while $running writers were pushing ($(total_acked) PUTs acknowledged so far)"

    fsck_clean
    start_berth
    out=$(verify "$round") || fail "round $round: verification failed"
    ok "round $round after the restart: $out"
done

stop_berth
fsck_clean
ok "fsck is clean afterwards"
