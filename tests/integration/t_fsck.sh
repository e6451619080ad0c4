#!/usr/bin/env bash
# berth fsck finds corrupt and missing blobs, corrupt manifests and orphaned files; --repair
# removes them and what depends on them; the server then never serves corrupt bytes.
. "$(dirname "$0")/lib.sh"
start_berth

head -c 4096 /dev/urandom >"$T/layer1"
head -c 4096 /dev/urandom >"$T/layer2"
echo '{"architecture":"amd64","os":"linux"}' >"$T/config"
l1=$(push_blob app/one "$T/layer1")
l2=$(push_blob app/two "$T/layer2")
c1=$(push_blob app/one "$T/config")
c2=$(push_blob app/two "$T/config")
mk() { # mk CONFIG LAYER -> manifest json
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":4096}]}' \
        "$1" "$(stat -c %s "$T/config")" "$2"
}
mk "$c1" "$l1" >"$T/m1"
mk "$c2" "$l2" >"$T/m2"
m1=$(push_manifest app/one v1 "$T/m1" application/vnd.oci.image.manifest.v1+json)
m2=$(push_manifest app/two v1 "$T/m2" application/vnd.oci.image.manifest.v1+json)
stop_berth
fsck_clean
ok "fsck is clean on a healthy registry"

# corrupt layer1 on disk (same size, different bytes)
f1=$DATA/blobs/sha256/${l1:7:2}/${l1:7}
chmod u+w "$f1"
printf 'X' | dd of="$f1" bs=1 seek=100 conv=notrunc status=none
out=$("$BERTH_BIN" fsck --data-dir "$DATA" 2>&1) && fail "fsck passed a corrupt blob: $out"
echo "$out" | grep -q "corrupt blob $l1" || fail "fsck did not name the corrupt blob: $out"
ok "fsck reports a corrupt blob and exits non-zero"

# corrupt manifest 2's stored bytes in the metadata store
python3 - "$DATA/meta.db" "$m2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE manifests SET body = CAST(? AS BLOB) WHERE digest = ?", ('{"tampered":true}', sys.argv[2]))
db.commit()
PY
# an orphaned blob file (bytes nobody recorded) is garbage, not a problem
orphan=$(printf 'orphan' | sha256sum | cut -d' ' -f1)
mkdir -p "$DATA/blobs/sha256/${orphan:0:2}"
printf 'orphan' >"$DATA/blobs/sha256/${orphan:0:2}/$orphan"

out=$("$BERTH_BIN" fsck --data-dir "$DATA" 2>&1) && fail "fsck passed: $out"
echo "$out" | grep -q "corrupt manifest in app/two: $m2" || fail "corrupt manifest not reported: $out"
echo "$out" | grep -q "orphaned blob sha256:$orphan" || fail "orphaned blob not reported: $out"
ok "fsck reports a corrupt manifest and an orphaned blob"

out=$("$BERTH_BIN" fsck --data-dir "$DATA" --repair 2>&1) || fail "fsck --repair failed: $out"
echo "$out" | grep -q "fsck: repaired" || fail "repair summary missing: $out"
[ ! -e "$DATA/blobs/sha256/${orphan:0:2}/$orphan" ] || fail "orphan not removed"
out=$("$BERTH_BIN" fsck --data-dir "$DATA" 2>&1) || fail "fsck after repair: $out"
echo "$out" | grep -q 'fsck: clean' || fail "not clean after repair: $out"
ok "fsck --repair leaves a clean registry"

start_berth
req GET "/v2/app/one/blobs/$l1"
expect_error 404 BLOB_UNKNOWN "corrupt blob after repair"
req GET "/v2/app/one/manifests/v1"
expect_error 404 MANIFEST_UNKNOWN "manifest that needed the corrupt blob"
req GET "/v2/app/two/manifests/$m2"
expect_error 404 MANIFEST_UNKNOWN "corrupt manifest after repair"
req GET "/v2/app/two/blobs/$l2"
expect_status 200 "healthy blob after repair"
cmp -s "$BODY" "$T/layer2" || fail "healthy blob changed"
ok "after repair nothing corrupt is served and healthy content is intact"

# fsck refuses to run while the server holds the data directory
out=$("$BERTH_BIN" fsck --data-dir "$DATA" 2>&1) && fail "fsck ran beside a live server"
echo "$out" | grep -q "in use" || fail "unexpected message: $out"
ok "fsck refuses to run while the server is up"
stop_berth
