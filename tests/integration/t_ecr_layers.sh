#!/usr/bin/env bash
# Layers through the ECR API with the AWS CLI v2: initiate-layer-upload, upload-layer-part in
# two parts (an out-of-order part is InvalidLayerPartException and the upload continues),
# complete-layer-upload (a wrong digest is InvalidLayerException and stores nothing),
# batch-check-layer-availability, get-download-url-for-layer (a URL that downloads the layer
# without credentials, and only that layer), and put-image of a manifest built on the layers.
. "$(dirname "$0")/lib_ecr.sh"
start_ecr_berth

must awsx ecr create-repository --repository-name ml/model >/dev/null
gen_bytes "$T/layer" 300000 7
head -c 100000 "$T/layer" >"$T/p1"
tail -c +100001 "$T/layer" >"$T/p2"
ld="sha256:$(sha256sum "$T/layer" | cut -d' ' -f1)"

upload=$(must awsx ecr initiate-layer-upload --repository-name ml/model --query uploadId --output text)
[[ "$upload" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] ||
    fail "uploadId is not a UUID: $upload"
part=$(must awsx ecr initiate-layer-upload --repository-name ml/model --query partSize --output text)
[ "$part" -gt 0 ] || fail "partSize $part"
expect_aws_error InvalidLayerPartException awsx ecr upload-layer-part --repository-name ml/model \
    --upload-id "$upload" --part-first-byte 100000 --part-last-byte 299999 --layer-part-blob "fileb://$T/p2"
last=$(must awsx ecr upload-layer-part --repository-name ml/model --upload-id "$upload" \
    --part-first-byte 0 --part-last-byte 99999 --layer-part-blob "fileb://$T/p1" --query lastByteReceived)
expect_eq "$last" 99999 "lastByteReceived after part 1"
last=$(must awsx ecr upload-layer-part --repository-name ml/model --upload-id "$upload" \
    --part-first-byte 100000 --part-last-byte 299999 --layer-part-blob "fileb://$T/p2" --query lastByteReceived)
expect_eq "$last" 299999 "lastByteReceived after part 2"
out=$(must awsx ecr complete-layer-upload --repository-name ml/model --upload-id "$upload" \
    --layer-digests "$ld" --query layerDigest --output text)
expect_eq "$out" "$ld" "complete-layer-upload"
ok "a layer uploads in parts through the ECR API; an out-of-order part is refused"

# a wrong digest stores nothing
u2=$(must awsx ecr initiate-layer-upload --repository-name ml/model --query uploadId --output text)
printf 'other bytes' >"$T/other"
must awsx ecr upload-layer-part --repository-name ml/model --upload-id "$u2" --part-first-byte 0 \
    --part-last-byte 10 --layer-part-blob "fileb://$T/other" >/dev/null
wrong="sha256:$(printf x | sha256sum | cut -d' ' -f1)"
expect_aws_error InvalidLayerException awsx ecr complete-layer-upload --repository-name ml/model \
    --upload-id "$u2" --layer-digests "$wrong"
expect_aws_error UploadNotFoundException awsx ecr upload-layer-part --repository-name ml/model \
    --upload-id 00000000-0000-0000-0000-000000000000 --part-first-byte 0 --part-last-byte 10 \
    --layer-part-blob "fileb://$T/other"
ok "a wrong digest is InvalidLayerException; an unknown upload is UploadNotFoundException"

out=$(must awsx ecr batch-check-layer-availability --repository-name ml/model --layer-digests "$ld" "$wrong" \
    --query '[layers[0].[layerDigest,layerAvailability,layerSize], failures[0].[layerDigest,failureCode]]' --output json | jq -c .)
expect_eq "$out" "[[\"$ld\",\"AVAILABLE\",300000],[\"$wrong\",\"MissingLayerDigest\"]]" "batch-check-layer-availability"
ok "batch-check-layer-availability reports available and missing layers"

url=$(must awsx ecr get-download-url-for-layer --repository-name ml/model --layer-digest "$ld" --query downloadUrl --output text)
[[ "$url" == http://$REG/v2/ml/model/blobs/$ld\?* ]] || fail "downloadUrl: $url"
curl -s -o "$T/dl" -w '%{http_code}' "$url" >"$T/code"
expect_eq "$(cat "$T/code")" 200 "download without credentials"
cmp -s "$T/dl" "$T/layer" || fail "downloaded bytes differ"
# the signature covers this blob of this repository only
must awsx ecr create-repository --repository-name ml/other >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' "${url/ml\/model/ml\/other}")
expect_eq "$code" 403 "the URL moved to another repository"
code=$(curl -s -o /dev/null -w '%{http_code}' "${url%?}0")
[ "$code" = 403 ] || fail "a tampered signature got $code"
expect_aws_error LayersNotFoundException awsx ecr get-download-url-for-layer --repository-name ml/model --layer-digest "$wrong"
ok "get-download-url-for-layer gives a URL that downloads exactly that layer"

# an artifact manifest on the layer, through PutImage
printf '{}' >"$T/cfg"
cd_=sha256:$(sha256sum "$T/cfg" | cut -d' ' -f1)
u3=$(must awsx ecr initiate-layer-upload --repository-name ml/model --query uploadId --output text)
must awsx ecr upload-layer-part --repository-name ml/model --upload-id "$u3" --part-first-byte 0 \
    --part-last-byte 1 --layer-part-blob "fileb://$T/cfg" >/dev/null
must awsx ecr complete-layer-upload --repository-name ml/model --upload-id "$u3" --layer-digests "$cd_" >/dev/null
m=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.model.onnx","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/octet-stream","digest":"%s","size":300000}]}' "$cd_" "$ld")
out=$(must awsx ecr put-image --repository-name ml/model --image-tag v1 --image-manifest "$m" --query image.imageId.imageDigest --output text)
expect_eq "$out" "sha256:$(printf '%s' "$m" | sha256sum | cut -d' ' -f1)" "put-image digest"
amt=$(must awsx ecr describe-images --repository-name ml/model --query 'imageDetails[0].artifactMediaType' --output text)
expect_eq "$amt" application/vnd.model.onnx "artifactMediaType"
missing=$(printf '%s' "$m" | sed "s/$ld/$wrong/")
expect_aws_error LayersNotFoundException awsx ecr put-image --repository-name ml/model --image-tag v2 --image-manifest "$missing"
ok "put-image stores an artifact built from ECR-uploaded layers; a missing layer is LayersNotFoundException"

stop_berth
fsck_clean
