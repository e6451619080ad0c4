#!/usr/bin/env bash
# An ML model pushed as an OCI artifact the way `oras push --artifact-type
# application/vnd.model.onnx` does it: empty config, two titled layers, artifactType set;
# pulled back byte-identical by tag and by digest.
. "$(dirname "$0")/lib.sh"
. "$HERE/lib_ops.sh"
start_berth

REPO=mlops/retail-api
mkdir -p "$T/art"
printf '{}' >"$T/art/config.json"
expect_eq "$(sha256_of "$T/art/config.json")" "$EMPTY_CONFIG_DIGEST" "digest of the empty config"
# a few MiB plus an odd tail, so no size is a multiple of any buffer
head -c $((3 * 1024 * 1024 + 4099)) /dev/urandom >"$T/art/model.onnx"
cat >"$T/art/metadata.json" <<'EOF'
{"name":"retail-demand","framework":"onnx","opset":17,"inputs":[{"name":"features","shape":[1,42]}],"metrics":{"mape":0.081}}
EOF

# blobs: empty config first, then the layers (oras pushes config and layers, then the manifest)
for f in config.json model.onnx metadata.json; do
    client_push_blob "$REPO" "$T/art/$f" >/dev/null
done
# a second push of the same content is a HEAD hit, as clients check before uploading
client_push_blob "$REPO" "$T/art/config.json" >/dev/null
ok "config and layers pushed with HEAD, POST and PUT"

jq -n \
    --arg at application/vnd.model.onnx \
    --arg cd "$EMPTY_CONFIG_DIGEST" \
    --argjson l1 "$(descriptor application/vnd.onnx.model "$T/art/model.onnx" model.onnx)" \
    --argjson l2 "$(descriptor application/json "$T/art/metadata.json" metadata.json)" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      artifactType: $at,
      config: {mediaType: "application/vnd.oci.empty.v1+json", digest: $cd, size: 2, data: "e30="},
      layers: [$l1, $l2],
      annotations: {"org.opencontainers.image.created": "2024-05-01T10:00:00Z"}}' \
    >"$T/art/manifest.json"
mdigest=$(client_push_manifest "$REPO" v1 "$T/art/manifest.json" "$OCI_MANIFEST")
expect_eq "$(hdr Location)" "/v2/$REPO/manifests/$mdigest" "manifest Location"
ok "artifact manifest pushed to $REPO:v1 ($mdigest)"

# pull: the manifest by tag and by digest, then every blob it names
pull_manifest_cmp "$REPO" v1 "$T/art/manifest.json" "$OCI_MANIFEST"
pull_manifest_cmp "$REPO" "$mdigest" "$T/art/manifest.json" "$OCI_MANIFEST"
ok "manifest pulled by tag and digest, byte-identical with Content-Type $OCI_MANIFEST"

mkdir -p "$T/pulled"
for d in $(jq -r '.config.digest, .layers[].digest' "$T/art/manifest.json"); do
    req GET "/v2/$REPO/blobs/$d" -L
    expect_status 200 "GET blob $d"
    cp "$BODY" "$T/pulled/${d#sha256:}"
done
jq -r '.layers[] | .annotations["org.opencontainers.image.title"] + " " + .digest' \
    "$T/art/manifest.json" | while read -r title d; do
    cmp -s "$T/pulled/${d#sha256:}" "$T/art/$title" || fail "layer $title differs after pull"
    expect_eq "$(sha256_of "$T/pulled/${d#sha256:}")" "$d" "digest of pulled $title"
done
cmp -s "$T/pulled/${EMPTY_CONFIG_DIGEST#sha256:}" "$T/art/config.json" ||
    fail "empty config differs after pull"
pull_blob_cmp "$REPO" "$T/art/model.onnx"
pull_blob_cmp "$REPO" "$T/art/metadata.json"
ok "model.onnx ($(size_of "$T/art/model.onnx") bytes), metadata.json and the config are byte-identical"

# ranged read of the model, as a resuming client does
size=$(size_of "$T/art/model.onnx")
req GET "/v2/$REPO/blobs/$(sha256_of "$T/art/model.onnx")" -H "Range: bytes=1048576-"
expect_status 206 "ranged GET of the model"
cmp -s "$BODY" <(tail -c +1048577 "$T/art/model.onnx") || fail "ranged model bytes differ"
expect_hdr Content-Range "bytes 1048576-$((size - 1))/$size" "Content-Range of ranged GET"
ok "a ranged pull of the model returns the right tail"

req GET "/v2/$REPO/tags/list"
expect_status 200 "tags/list"
expect_eq "$(jq -c . "$BODY")" '{"name":"mlops/retail-api","tags":["v1"]}' "tags/list"
req GET "/v2/_catalog"
expect_status 200 "catalog"
expect_eq "$(jq -r '.repositories | join(",")' "$BODY")" "$REPO" "catalog"
ok "tags/list and catalog show the nested repository"

stop_berth
fsck_clean
ok "fsck is clean afterwards"
