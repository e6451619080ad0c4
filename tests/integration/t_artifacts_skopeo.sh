#!/usr/bin/env bash
# An artifact pushed with curl is copied registry-to-registry by skopeo (docker:// to
# docker://, within one berth): the manifest digest is identical in the target and every
# blob is byte-identical there.
. "$(dirname "$0")/lib.sh"
. "$HERE/lib_ops.sh"
start_berth

mkdir -p "$T/a"
printf '{}' >"$T/a/config.json"
head -c $((1024 * 1024 + 333)) /dev/urandom >"$T/a/weights.bin"
printf '{"classes":["cat","dog"]}' >"$T/a/labels.json"
for f in config.json weights.bin labels.json; do client_push_blob a/b "$T/a/$f" >/dev/null; done
jq -cn --arg ed "$EMPTY_CONFIG_DIGEST" \
    --argjson l1 "$(descriptor application/vnd.example.weights.v1 "$T/a/weights.bin" weights.bin)" \
    --argjson l2 "$(descriptor application/json "$T/a/labels.json" labels.json)" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      artifactType: "application/vnd.example.classifier.v1",
      config: {mediaType: "application/vnd.oci.empty.v1+json", digest: $ed, size: 2},
      layers: [$l1, $l2]}' >"$T/a/manifest.json"
src=$(client_push_manifest a/b v1 "$T/a/manifest.json" "$OCI_MANIFEST")
ok "artifact pushed to a/b:v1 ($src)"

"${SKOPEO[@]}" copy -q --src-tls-verify=false --dest-tls-verify=false \
    "docker://$REG/a/b:v1" "docker://$REG/c/d:v1" 2>"$T/skopeo.err" ||
    fail "skopeo copy failed: $(cat "$T/skopeo.err")"
got=$(skopeo inspect --tls-verify=false --raw "docker://$REG/c/d:v1" | sha256sum | cut -d' ' -f1)
expect_eq "sha256:$got" "$src" "manifest digest in the target (skopeo inspect)"
req HEAD "/v2/c/d/manifests/v1"
expect_status 200 "HEAD target manifest"
expect_hdr Docker-Content-Digest "$src" "target Docker-Content-Digest"
pull_manifest_cmp c/d v1 "$T/a/manifest.json" "$OCI_MANIFEST"
ok "skopeo copied a/b:v1 to c/d:v1 with the identical manifest digest"

for f in config.json weights.bin labels.json; do pull_blob_cmp c/d "$T/a/$f"; done
ok "every blob of the artifact is byte-identical in c/d"

# a second copy is a no-op that keeps the digest (blobs are found already present)
"${SKOPEO[@]}" copy -q --src-tls-verify=false --dest-tls-verify=false \
    "docker://$REG/a/b:v1" "docker://$REG/c/d:v1" 2>"$T/skopeo.err" ||
    fail "second skopeo copy failed: $(cat "$T/skopeo.err")"
req HEAD "/v2/c/d/manifests/v1"
expect_hdr Docker-Content-Digest "$src" "digest after a second copy"
ok "copying again keeps the same digest"

# by digest, into a third repository, and tag listing of the target
"${SKOPEO[@]}" copy -q --src-tls-verify=false --dest-tls-verify=false \
    "docker://$REG/a/b@$src" "docker://$REG/e/f/g:copy" 2>"$T/skopeo.err" ||
    fail "skopeo copy by digest failed: $(cat "$T/skopeo.err")"
req HEAD "/v2/e/f/g/manifests/copy"
expect_status 200 "HEAD e/f/g:copy"
expect_hdr Docker-Content-Digest "$src" "digest after a copy by digest"
tags=$(skopeo list-tags --tls-verify=false "docker://$REG/c/d" | jq -r '.Tags | join(",")')
expect_eq "$tags" v1 "skopeo list-tags c/d"
ok "copy by source digest into a nested repository keeps the digest"

stop_berth
fsck_clean
ok "fsck is clean afterwards"
