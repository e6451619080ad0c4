#!/usr/bin/env bash
# skopeo copies a single image and a two-platform index in and back out byte-identical;
# inspect, list-tags and delete work.
. "$(dirname "$0")/lib.sh"
start_berth

A320=$TESTDATA/alpine-minirootfs-3.20.3-x86_64.tar.gz
A318=$TESTDATA/alpine-minirootfs-3.18.9-x86_64.tar.gz
single=$(python3 "$HERE/mkimage.py" single "$T/single" "$A320")
multi=$(python3 "$HERE/mkimage.py" multi "$T/multi" "$A320" "$A318")

# single image
"${SKOPEO[@]}" copy -q --dest-tls-verify=false "oci:$T/single:latest" "docker://$REG/library/alpine:3.20"
got=$(skopeo inspect --tls-verify=false --raw "docker://$REG/library/alpine:3.20" | sha256sum | cut -d' ' -f1)
expect_eq "sha256:$got" "$single" "single image manifest digest after push"
"${SKOPEO[@]}" copy -q --src-tls-verify=false "docker://$REG/library/alpine:3.20" "oci:$T/single-out:latest"
diff <(cd "$T/single/blobs/sha256" && ls) <(cd "$T/single-out/blobs/sha256" && ls) >/dev/null ||
    fail "single image blobs differ after the round trip"
for f in "$T"/single/blobs/sha256/*; do
    cmp -s "$f" "$T/single-out/blobs/sha256/$(basename "$f")" || fail "blob $(basename "$f") differs"
done
ok "single image round trip is byte-identical ($single)"

# inspect
digest=$(skopeo inspect --tls-verify=false "docker://$REG/library/alpine:3.20" | jq -r .Digest)
expect_eq "$digest" "$single" "skopeo inspect digest"
ok "skopeo inspect reports the pushed digest"

# multi-arch index with --all
"${SKOPEO[@]}" copy -q --all --dest-tls-verify=false "oci:$T/multi:latest" "docker://$REG/mlops/retail-api:multi"
got=$(skopeo inspect --tls-verify=false --raw "docker://$REG/mlops/retail-api:multi" | sha256sum | cut -d' ' -f1)
expect_eq "sha256:$got" "$multi" "index digest after push"
arm=$(skopeo inspect --tls-verify=false --override-arch arm64 "docker://$REG/mlops/retail-api:multi" | jq -r .Architecture)
expect_eq "$arm" "arm64" "arm64 child resolves through the index"
"${SKOPEO[@]}" copy -q --all --src-tls-verify=false "docker://$REG/mlops/retail-api:multi" "oci:$T/multi-out:latest"
for f in "$T"/multi/blobs/sha256/*; do
    cmp -s "$f" "$T/multi-out/blobs/sha256/$(basename "$f")" || fail "multi blob $(basename "$f") differs"
done
ok "two-platform index round trip with --all is byte-identical ($multi)"

# list-tags
"${SKOPEO[@]}" copy -q --dest-tls-verify=false "oci:$T/single:latest" "docker://$REG/mlops/retail-api:v1"
tags=$(skopeo list-tags --tls-verify=false "docker://$REG/mlops/retail-api" | jq -r '.Tags | join(",")')
expect_eq "$tags" "multi,v1" "list-tags"
ok "skopeo list-tags"

# delete: the manifest goes, the other tag stays
skopeo delete --tls-verify=false "docker://$REG/mlops/retail-api:v1"
if skopeo inspect --tls-verify=false --raw "docker://$REG/mlops/retail-api:v1" >/dev/null 2>&1; then
    fail "deleted image still resolves"
fi
tags=$(skopeo list-tags --tls-verify=false "docker://$REG/mlops/retail-api" | jq -r '.Tags | join(",")')
expect_eq "$tags" "multi" "tags after delete"
ok "skopeo delete removes the image and its tag"

# Docker schema 2, the format `docker push` produces: skopeo converts and pushes it
"${SKOPEO[@]}" copy -q --format v2s2 --dest-tls-verify=false "oci:$T/single:latest" "docker://$REG/legacy/app:v2s2"
raw=$(skopeo inspect --tls-verify=false --raw "docker://$REG/legacy/app:v2s2")
expect_eq "$(echo "$raw" | jq -r .mediaType)" "application/vnd.docker.distribution.manifest.v2+json" "v2s2 media type"
req HEAD /v2/legacy/app/manifests/v2s2
expect_hdr Content-Type "application/vnd.docker.distribution.manifest.v2+json" "v2s2 Content-Type"
expect_eq "$(hdr Docker-Content-Digest)" "sha256:$(printf '%s' "$raw" | sha256sum | cut -d' ' -f1)" "v2s2 digest"
"${SKOPEO[@]}" copy -q --src-tls-verify=false "docker://$REG/legacy/app:v2s2" "dir:$T/v2s2-out"
layer=$(echo "$raw" | jq -r '.layers[0].digest')
cmp -s "$T/v2s2-out/${layer#sha256:}" "$A320" || fail "v2s2 layer differs from the rootfs tarball"
ok "Docker schema 2 push and pull through skopeo --format v2s2"

stop_berth
fsck_clean
ok "fsck is clean afterwards"
