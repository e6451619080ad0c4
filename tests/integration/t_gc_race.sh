#!/usr/bin/env bash
# The deliberate race: garbage collection runs continuously (the server's background runs
# every second and `berth gc` as a separate process in a loop, grace 3 s) while two skopeo
# pushers push images that share layers and a third loop deletes half of them as soon as they
# are acknowledged. So layers become unreferenced and are swept while other pushes HEAD them
# and then reference them without uploading, or upload them again, or mount them into a
# second repository. Every push skopeo acknowledged (exit 0) and nobody deleted must then pull
# byte-identical (manifest digest and every blob), also after one more collection with
# everything past the grace; fsck is clean. Pushes may fail cleanly (they are counted); the
# test fails if any acknowledged image is broken, or if garbage collection reclaimed nothing
# (then it raced nothing).
. "$(dirname "$0")/lib.sh"
. "$HERE/lib_ops.sh"

GRACE=3
N=20 # image pairs: images 2k (deleted once acknowledged) and 2k+1 (kept) share layer P[k]
DEADLINE=$((SECONDS + 75))
export HOME=$T/home # skopeo's blob-info cache (it decides mounts) starts empty
mkdir -p "$HOME"

start_berth --gc-grace "$GRACE" --gc-interval 1

# One OCI layout holding every image, tagged i0..i39: image i has its own config, a hot layer
# H[i % 3] shared by a third of all images, and a pair layer P[i // 2] shared with its twin.
python3 - "$T/imgs" "$N" <<'EOF'
import gzip, hashlib, io, json, os, random, sys, tarfile
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(out, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
def layer(seed, size):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        data = random.Random(seed).randbytes(size)
        info = tarfile.TarInfo("data/%d.bin" % seed)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()
# Compressed, as skopeo would otherwise compress them itself and push another manifest.
LT = "application/vnd.oci.image.layer.v1.tar+gzip"
hot = [layer(1000 + h, 96 * 1024) for h in range(3)]
pair = [layer(2000 + k, 48 * 1024) for k in range(n)]
index = []
for i in range(2 * n):
    ls = [hot[i % 3], pair[i // 2]]
    descs = [dict(put(gzip.compress(l, mtime=0)), mediaType=LT) for l in ls]
    cfg = {"architecture": "amd64", "os": "linux", "config": {"Env": ["IMAGE=%d" % i]},
           "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(l).hexdigest() for l in ls]}}
    c = put(json.dumps(cfg, sort_keys=True).encode())
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": dict(c, mediaType="application/vnd.oci.image.config.v1+json"), "layers": descs}
    md = put(json.dumps(m, indent=1).encode())
    index.append(dict(md, mediaType=m["mediaType"],
                      annotations={"org.opencontainers.image.ref.name": "i%d" % i}))
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": index}, f)
with open(os.path.join(out, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
with open(os.path.join(out, "pairs"), "w") as f:
    for k in range(n):
        f.write("sha256:%s\n" % hashlib.sha256(gzip.compress(pair[k], mtime=0)).hexdigest())
EOF

# push I REPO: one skopeo push of image I; appends "REPO iI STATUS DIGEST" to $T/pushes.
push() {
    local i=$1 repo=$2 st=0 d=- df="$T/digest.${2//\//_}.$1"
    "${SKOPEO[@]}" copy -q --dest-tls-verify=false --digestfile "$df" \
        "oci:$T/imgs:i$i" "docker://$REG/$repo:i$i" >>"$T/skopeo.$i.log" 2>&1 || st=$?
    [ "$st" = 0 ] && d=$(cat "$df")
    echo "$repo i$i $st $d" >>"$T/pushes"
}

# Pusher A: the images that get deleted, as fast as it can. Pusher B: their twins, each also
# pushed to race/mirror (skopeo mounts its blobs from race/churn). B pushes the twin of image
# 2k once 2k is deleted, when the shared layer P[k] is linked in race/churn but referenced by
# nothing there, and then, by k % 3:
#   0  at once: HEAD finds the young link and the manifest PUT references it;
#   1  after the sweep took P[k] (its blob file is gone): the push uploads it again;
#   2  after half the grace: the link is old enough for the HEAD to refresh it, and the sweep
#      may come for it between that HEAD and the manifest PUT.
pusher_a() {
    local k
    for k in $(seq 0 $((N - 1))); do
        [ "$SECONDS" -lt "$DEADLINE" ] || break
        push $((2 * k)) race/churn
    done
    echo finished >"$T/a.done"
}
twin_ready() { # the even image is deleted, or will never be (its push or delete failed)
    grep -q "^race/churn i$1 [^0]" "$T/pushes" || grep -q "^race/churn i$1 " "$T/deletes"
}
deleted_since() { # seconds since image $1 was deleted (0 if it was not)
    awk -v t="i$1" -v now="$(date +%s.%N)" \
        '$2 == t && $3 == 202 { d = now - $5 } END { printf "%d\n", d + 0 }' "$T/deletes"
}
pusher_b() {
    local k pk
    for k in $(seq 0 $((N - 1))); do
        [ "$SECONDS" -lt "$DEADLINE" ] || break
        wait_until 30 twin_ready $((2 * k)) || true
        case $((k % 3)) in
        1)
            pk=$(sed -n "$((k + 1))p" "$T/imgs/pairs")
            pair_gone() { [ ! -e "$DATA/blobs/sha256/${pk:7:2}/${pk#sha256:}" ]; }
            if wait_until 30 pair_gone; then echo "P$k" >>"$T/swept"; fi
            ;;
        2)
            past_half() { [ "$(deleted_since $((2 * k)))" -ge $((GRACE / 2 + 1)) ]; }
            wait_until 30 past_half || true
            ;;
        esac
        push $((2 * k + 1)) race/churn
        push $((2 * k + 1)) race/mirror
    done
    echo finished >"$T/b.done"
}
# Deleter: deletes every acknowledged even image, after a pause of up to a second.
deleter() {
    local seen=0 line repo tag st d n
    while :; do
        n=$(wc -l <"$T/pushes" 2>/dev/null || echo 0)
        while [ "$seen" -lt "$n" ]; do
            seen=$((seen + 1))
            line=$(sed -n "${seen}p" "$T/pushes")
            read -r repo tag st d <<<"$line"
            if [ "$repo" != race/churn ] || [ "$st" != 0 ] || [ $((${tag#i} % 2)) != 0 ]; then
                continue
            fi
            sleep "0.$((RANDOM % 10))"
            st=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL/v2/$repo/manifests/$d") || st=000
            echo "$repo $tag $st $d $(date +%s.%N)" >>"$T/deletes"
        done
        if [ -f "$T/a.done" ] && [ "$seen" -ge "$(wc -l <"$T/pushes")" ]; then break; fi
        [ "$SECONDS" -lt $((DEADLINE + 10)) ] || break
        sleep 0.1
    done
    echo finished >"$T/deleter.done"
}
# Collector: `berth gc` as its own process, again and again, beside the background runs.
collector() {
    while [ ! -f "$T/deleter.done" ] || [ ! -f "$T/b.done" ]; do
        "$BERTH_BIN" gc --data-dir "$DATA" --gc-grace "$GRACE" >>"$T/gc.out" 2>>"$T/gc.err" ||
            echo "gc exit $?" >>"$T/gc.out"
        sleep 0.3
        [ "$SECONDS" -lt $((DEADLINE + 15)) ] || break
    done
}

: >"$T/pushes"
: >"$T/deletes"
pusher_a &
pa=$!
pusher_b &
pb=$!
deleter &
dl=$!
collector &
co=$!
BG_PIDS+=("$pa" "$pb" "$dl" "$co")
wait "$pa" "$pb" "$dl" "$co"

acked=$(awk '$3 == 0' "$T/pushes" | wc -l)
failed=$(awk '$3 != 0' "$T/pushes" | wc -l)
deleted=$(awk '$3 == 202' "$T/deletes" | wc -l)
cli_blobs=$(grep -o 'reclaimed [0-9]* blob' "$T/gc.out" | awk '{ s += $2 } END { print s + 0 }')
bg_blobs=$(grep -o 'gc: reclaimed [0-9]* blob' "$T/berth.log" | awk '{ s += $3 } END { print s + 0 }')
links=$(cat "$T/gc.out" "$T/berth.log" | grep -o 'removed [0-9]* unreferenced' | awk '{ s += $2 } END { print s + 0 }')
runs=$(grep -c '^gc: ' "$T/gc.out" || true)
echo "pushes: $acked acknowledged, $failed failed; $deleted images deleted; gc: $runs separate runs reclaimed $cli_blobs blobs, background runs $bg_blobs, $links links in all"
[ ! -s "$T/gc.err" ] || fail "berth gc reported errors: $(head -c 600 "$T/gc.err")"
grep -q 'gc exit' "$T/gc.out" && fail "a berth gc run failed: $(grep 'gc exit' "$T/gc.out" | head -3)"
grep -q 'gc: run failed' "$T/berth.log" && fail "a background gc run failed: $(grep 'gc: run failed' "$T/berth.log" | head -3)"
if [ "$failed" -gt 0 ]; then
    echo "failed pushes (allowed when they fail cleanly):"
    awk '$3 != 0' "$T/pushes"
    for f in $(awk '$3 != 0 { sub("i", "", $2); print $2 }' "$T/pushes" | sort -u); do
        grep -h -i 'error\|fail' "$T/skopeo.$f.log" | tail -n 2 || true
    done
fi
[ "$acked" -ge $((N * 3 / 2)) ] || fail "only $acked of $((N * 3)) pushes were acknowledged"
[ $((cli_blobs + bg_blobs)) -gt 0 ] || fail "garbage collection reclaimed no blob during the pushes: nothing was raced"
[ "$links" -gt 0 ] || fail "garbage collection removed no link during the pushes"
uploads=$(grep -c 'POST /v2/race/[a-z]*/blobs/uploads/ 202' "$T/berth.log" || true)
mounts=$(grep -c 'POST /v2/race/mirror/blobs/uploads/ 201' "$T/berth.log" || true)
found=$(grep -c 'HEAD /v2/race/[a-z]*/blobs/sha256:[0-9a-f]* 200' "$T/berth.log" || true)
swept=$(wc -l <"$T/swept" 2>/dev/null || echo 0)
echo "clients: $found blob HEADs found the blob (no upload), $uploads uploads, $mounts mounts; $swept shared layers were swept before their twin's push uploaded them again"
[ "$swept" -gt 0 ] || fail "garbage collection swept no shared layer between a delete and the next push"
ok "the race ran: $acked pushes acknowledged, $failed failed cleanly, $deleted deleted, $((cli_blobs + bg_blobs)) blobs reclaimed meanwhile"

# verify: every acknowledged image nobody deleted pulls whole.
verify() {
    python3 - "$PORT" "$T/imgs" "$T/pushes" "$T/deletes" <<'EOF'
import hashlib, http.client, json, os, sys
port, imgs, pushes, deletes = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
gone = set()
for ln in open(deletes):
    repo, tag, st, d = ln.split()[:4]
    if st == "202":
        gone.add((repo, tag))
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
def get(path, accept=None):
    conn.request("GET", path, headers={"Accept": accept} if accept else {})
    r = conn.getresponse()
    return r.status, r.read()
checked = blobs = 0
for ln in open(pushes):
    repo, tag, st, d = ln.split()
    if st != "0" or (repo, tag) in gone:
        continue
    want = open(os.path.join(imgs, "blobs", "sha256", d[7:]), "rb").read()
    if "sha256:" + hashlib.sha256(want).hexdigest() != d:
        sys.exit("%s:%s: skopeo reported digest %s, not the layout's manifest" % (repo, tag, d))
    for ref in (tag, d):
        s, body = get("/v2/%s/manifests/%s" % (repo, ref), "application/vnd.oci.image.manifest.v1+json")
        if s != 200 or body != want:
            sys.exit("acknowledged image %s:%s (%s): GET manifest %s answers %d, %d bytes" % (repo, tag, d, ref, s, len(body)))
    m = json.loads(want)
    for desc in [m["config"]] + m["layers"]:
        s, body = get("/v2/%s/blobs/%s" % (repo, desc["digest"]))
        if s != 200 or "sha256:" + hashlib.sha256(body).hexdigest() != desc["digest"] or len(body) != desc["size"]:
            sys.exit("acknowledged image %s:%s (%s): blob %s answers %d with %d bytes" % (repo, tag, d, desc["digest"], s, len(body)))
        blobs += 1
    checked += 1
print("%d acknowledged images (%d blobs) pull byte-identical" % (checked, blobs))
EOF
}
out=$(verify 2>&1) || fail "$out"
ok "right after the race: $out"

# Everything unreferenced is now past the grace: one more collection must take only that.
sleep $((GRACE + 2))
out=$("$BERTH_BIN" gc --data-dir "$DATA" --gc-grace "$GRACE") || fail "final gc failed: $out"
echo "final collection: $out"
out=$(verify 2>&1) || fail "after the final collection: $out"
ok "after a final collection with everything past the grace: $out"

# A pull through skopeo, for one kept image of each repository.
for repo in race/churn race/mirror; do
    tag=$(awk -v r="$repo" '$1 == r && $3 == 0 { print $2 }' "$T/pushes" | tail -n 1)
    [ -n "$tag" ] || continue
    "${SKOPEO[@]}" copy -q --src-tls-verify=false "docker://$REG/$repo:$tag" "oci:$T/out-${repo#race/}:$tag"
    d=$(awk -v r="$repo" -v t="$tag" '$1 == r && $2 == t { print $4 }' "$T/pushes")
    for b in $(jq -r '.config.digest, .layers[].digest' "$T/imgs/blobs/sha256/${d#sha256:}"); do
        cmp -s "$T/imgs/blobs/sha256/${b#sha256:}" "$T/out-${repo#race/}/blobs/sha256/${b#sha256:}" ||
            fail "skopeo pull of $repo:$tag: blob $b differs"
    done
done
ok "skopeo pulls a kept image of each repository byte-identical"

stop_berth
fsck_clean
ok "fsck is clean afterwards"
