#!/usr/bin/env bash
# berth gc beside a running server: after an image delete (OCI DELETE by digest) and a
# repository delete (ECR DeleteRepository --force), a dry run reports exactly what a real run
# then removes; the real run removes exactly those blob files and reports their bytes; layers
# a live image still uses stay, and that image pulls byte-identical; the deleted content can
# be pushed again; fsck is clean at the end.
. "$(dirname "$0")/lib.sh"
. "$HERE/lib_ops.sh"
start_berth --gc-interval 0

A320=$TESTDATA/alpine-minirootfs-3.20.3-x86_64.tar.gz
A318=$TESTDATA/alpine-minirootfs-3.18.9-x86_64.tar.gz
python3 "$HERE/mkimage.py" single "$T/s320" "$A320" >/dev/null
python3 "$HERE/mkimage.py" single "$T/s318" "$A318" >/dev/null
multi=$(python3 "$HERE/mkimage.py" multi "$T/multi" "$A320" "$A318")

push() { "${SKOPEO[@]}" copy -q "$@" --dest-tls-verify=false; }
push "oci:$T/s320:latest" "docker://$REG/gc/app:single"
push --all "oci:$T/multi:latest" "docker://$REG/gc/app:multi"
push "oci:$T/s318:latest" "docker://$REG/gc/doomed:v1"

# The digests involved, from the image layouts.
manifest_of() { jq -r '.manifests[0].digest' "$1/index.json"; }
child() { jq -r --arg a "$2" '.manifests[] | select(.platform.architecture == $a) | .digest' \
    "$T/multi/blobs/sha256/${1#sha256:}"; }
layer_of() { jq -r '.layers[0].digest' "$1/blobs/sha256/${2#sha256:}"; }
config_of() { jq -r '.config.digest' "$1/blobs/sha256/${2#sha256:}"; }
amd=$(child "$multi" amd64)
arm=$(child "$multi" arm64)
L320=$(layer_of "$T/multi" "$amd")
L318=$(layer_of "$T/multi" "$arm")
C_amd=$(config_of "$T/multi" "$amd")
C_arm=$(config_of "$T/multi" "$arm")
s320=$(manifest_of "$T/s320")
s318=$(manifest_of "$T/s318")
C_s320=$(config_of "$T/s320" "$s320")
C_s318=$(config_of "$T/s318" "$s318")
expect_eq "$(layer_of "$T/s320" "$s320")" "$L320" "the single image shares the amd64 layer"
expect_eq "$(layer_of "$T/s318" "$s318")" "$L318" "the doomed image shares the arm64 layer"

blob_path() { echo "$DATA/blobs/sha256/${1:7:2}/${1#sha256:}"; }
layout_size() { size_of "$T/$1/blobs/sha256/${2#sha256:}"; }
files_before=$(blob_files)
expect_eq "$files_before" 6 "blob files after the pushes (2 layers, 4 configs)"

# ---- delete: the multi-arch image (index, then both children) and the doomed repository ----
for d in "$multi" "$amd" "$arm"; do
    req DELETE "/v2/gc/app/manifests/$d"
    expect_status 202 "DELETE manifest $d"
done
req POST / -H 'X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.DeleteRepository' \
    -H 'Content-Type: application/x-amz-json-1.1' -d '{"repositoryName": "gc/doomed", "force": true}'
expect_status 200 "DeleteRepository --force"
ok "deleted the index and its two children from gc/app, and the repository gc/doomed"
expect_eq "$(blob_files)" "$files_before" "blob files right after the deletes (nothing reclaimed yet)"

# What must go: the arm64 layer (only the deleted index and the deleted repository used it),
# the configs of both children and of the doomed image. The amd64 layer stays: gc/app:single
# uses it. Links in gc/app to the arm64 layer and the two child configs go too; the doomed
# repository's links went with it.
gone=("$L318" "$C_amd" "$C_arm" "$C_s318")
bytes=$(($(layout_size multi "$L318") + $(layout_size multi "$C_amd") + $(layout_size multi "$C_arm") + $(layout_size s318 "$C_s318")))
kept=("$L320" "$C_s320")
want_line="reclaimed 4 blobs ($bytes bytes), removed 3 unreferenced links, expired 0 upload sessions, removed 0 orphaned files"

# The grace counts whole seconds: let the pushes' second pass.
sleep 2
out=$("$BERTH_BIN" gc --data-dir "$DATA" --gc-grace 0 --dry-run) || fail "gc --dry-run failed: $out"
expect_eq "$out" "gc (dry run): would reclaim 4 blobs ($bytes bytes), remove 3 unreferenced links, expire 0 upload sessions, remove 0 orphaned files" "dry run report"
expect_eq "$(blob_files)" "$files_before" "blob files after the dry run"
for d in "${gone[@]}"; do [ -f "$(blob_path "$d")" ] || fail "the dry run removed $d"; done
ok "dry run: $out"

# With the default grace (a day) nothing is old enough.
out=$("$BERTH_BIN" gc --data-dir "$DATA") || fail "gc failed: $out"
expect_eq "$out" "gc: reclaimed 0 blobs (0 bytes), removed 0 unreferenced links, expired 0 upload sessions, removed 0 orphaned files" "gc within the default grace"

out=$("$BERTH_BIN" gc --data-dir "$DATA" --gc-grace 0) || fail "gc failed: $out"
expect_eq "$out" "gc: $want_line" "gc report"
for d in "${gone[@]}"; do [ ! -e "$(blob_path "$d")" ] || fail "gc left $d on disk"; done
for d in "${kept[@]}"; do [ -f "$(blob_path "$d")" ] || fail "gc removed $d, which gc/app:single uses"; done
expect_eq "$(blob_files)" $((files_before - 4)) "blob files after gc"
ok "gc removed exactly the 4 unreferenced blob files ($bytes bytes) while the server ran: $out"

# The live image pulls byte-identical; what went is gone from the API too.
"${SKOPEO[@]}" copy -q --src-tls-verify=false "docker://$REG/gc/app:single" "oci:$T/single-out:latest"
for f in "$T"/s320/blobs/sha256/*; do
    cmp -s "$f" "$T/single-out/blobs/sha256/$(basename "$f")" || fail "blob $(basename "$f") of gc/app:single differs"
done
expect_eq "$(skopeo inspect --tls-verify=false --raw "docker://$REG/gc/app:single" | sha256sum | cut -d' ' -f1)" \
    "${s320#sha256:}" "gc/app:single manifest digest"
req HEAD "/v2/gc/app/blobs/$L318"
expect_status 404 "HEAD of the reclaimed layer"
req GET "/v2/gc/app/blobs/$C_amd"
expect_error 404 BLOB_UNKNOWN "GET of a reclaimed config"
ok "gc/app:single pulls byte-identical; the reclaimed blobs answer 404"

# A second run finds nothing; the deleted image can be pushed again and pulls whole.
out=$("$BERTH_BIN" gc --data-dir "$DATA" --gc-grace 0) || fail "gc failed: $out"
expect_eq "$out" "gc: reclaimed 0 blobs (0 bytes), removed 0 unreferenced links, expired 0 upload sessions, removed 0 orphaned files" "second gc"
push --all "oci:$T/multi:latest" "docker://$REG/gc/app:multi"
"${SKOPEO[@]}" copy -q --all --src-tls-verify=false "docker://$REG/gc/app:multi" "oci:$T/multi-out:latest"
for f in "$T"/multi/blobs/sha256/*; do
    cmp -s "$f" "$T/multi-out/blobs/sha256/$(basename "$f")" || fail "re-pushed multi blob $(basename "$f") differs"
done
ok "the reclaimed image pushes again and pulls byte-identical"

"$BERTH_BIN" gc --help | grep -q -- '--dry-run' || fail "berth gc --help does not list --dry-run"
out=$("$BERTH_BIN" gc --data-dir "$DATA" --no-such-flag 2>&1) && fail "gc accepted an unknown flag"
rc=0
"$BERTH_BIN" gc --data-dir "$DATA" --gc-grace -1 >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 2 "exit status of gc with a bad setting"
ok "berth gc --help, and exit 2 on bad settings"

stop_berth
fsck_clean
ok "fsck is clean afterwards"
