#!/usr/bin/env bash
# The ECR image workflows with the real AWS CLI v2 and skopeo: push after
# get-login-password | skopeo login, describe-images --query, batch-get-image --output text,
# put-image retag, immutable tags refused through both APIs, list-images --filter
# tagStatus=UNTAGGED piped into batch-delete-image, the last tag taking its image, an index's
# child protected, delete-repository --force.
. "$(dirname "$0")/lib_ecr.sh"
start_ecr_berth

A320=$TESTDATA/alpine-minirootfs-3.20.3-x86_64.tar.gz
A318=$TESTDATA/alpine-minirootfs-3.18.9-x86_64.tar.gz
img1=$(python3 "$HERE/mkimage.py" single "$T/img1" "$A320")
img2=$(python3 "$HERE/mkimage.py" single "$T/img2" "$A318")
multi=$(python3 "$HERE/mkimage.py" multi "$T/multi" "$A320" "$A318")
AF=$T/auth.json
push() { # push LAYOUT REF
    skopeo copy -q --all --authfile "$AF" --dest-tls-verify=false "oci:$1:latest" "docker://$REG/$2" \
        >/dev/null 2>"$T/push.err"
}

must awsx ecr create-repository --repository-name team/web --image-tag-mutability IMMUTABLE \
    --image-scanning-configuration scanOnPush=true >/dev/null
login_skopeo "$AF"
push "$T/img1" team/web:v1 || fail "push v1: $(cat "$T/push.err")"
ok "skopeo pushes after get-login-password | skopeo login"

# describe-images
out=$(must awsx ecr describe-images --repository-name team/web \
    --query 'imageDetails[0].[imageDigest,imageTags[0],imageManifestMediaType,artifactMediaType,registryId,repositoryName]' \
    --output text)
expect_eq "$out" "$img1	v1	application/vnd.oci.image.manifest.v1+json	application/vnd.oci.image.config.v1+json	000000000000	team/web" \
    "describe-images fields"
size=$(must awsx ecr describe-images --repository-name team/web --query 'imageDetails[0].imageSizeInBytes')
layer=$(stat -c %s "$T/img1/blobs/sha256/$(jq -r '.layers[0].digest' "$T/img1/blobs/sha256/${img1#sha256:}" | cut -d: -f2)")
[ "$size" -gt "$layer" ] || fail "imageSizeInBytes $size does not cover the layer ($layer bytes)"
pushed=$(must awsx ecr describe-images --repository-name team/web --query 'imageDetails[0].imagePushedAt' --output text)
[[ "$pushed" == 20[0-9][0-9]-* ]] || fail "imagePushedAt is not a timestamp: $pushed"
ok "describe-images reports digest, tags, size, push time and media types"

# lastRecordedPullTime: set by a pull (GET, BatchGetImage), not by a push or a HEAD
pulled() { must awsx ecr describe-images --repository-name team/web --image-ids imageTag=v1 \
    --query 'imageDetails[0].lastRecordedPullTime' --output text; }
expect_eq "$(pulled)" None "lastRecordedPullTime after the push"
pw=$(must awsx ecr get-login-password)
req HEAD /v2/team/web/manifests/v1 -H "Authorization: $(basic_auth "$pw")"
expect_status 200 "HEAD manifest"
expect_eq "$(pulled)" None "lastRecordedPullTime after a HEAD"
req GET /v2/team/web/manifests/v1 -H "Authorization: $(basic_auth "$pw")" \
    -H "Accept: application/vnd.oci.image.manifest.v1+json"
expect_status 200 "GET manifest"
t=$(pulled)
[[ "$t" == 20[0-9][0-9]-* ]] || fail "lastRecordedPullTime after a GET: $t"
d=$(( $(date +%s) - $(date -d "$t" +%s) ))
[ "$d" -ge 0 ] && [ "$d" -lt 120 ] || fail "lastRecordedPullTime $t is not now"
ok "a pull records lastRecordedPullTime; a push or a HEAD does not"

# batch-get-image -> put-image retag (the user guide's recipe)
MANIFEST=$(must awsx ecr batch-get-image --repository-name team/web --image-ids imageTag=v1 \
    --query 'images[].imageManifest' --output text)
expect_eq "sha256:$(printf '%s' "$MANIFEST" | sha256sum | cut -d' ' -f1)" "$img1" \
    "batch-get-image returns the manifest byte for byte"
out=$(must awsx ecr put-image --repository-name team/web --image-tag release --image-manifest "$MANIFEST" \
    --query 'image.imageId.[imageDigest,imageTag]' --output text)
expect_eq "$out" "$img1	release" "put-image retag"
tags=$(must awsx ecr describe-images --repository-name team/web --image-ids imageTag=release \
    --query 'imageDetails[0].imageTags' --output text)
expect_eq "$tags" "release	v1" "the image carries both tags"
expect_aws_error ImageAlreadyExistsException awsx ecr put-image --repository-name team/web \
    --image-tag release --image-manifest "$MANIFEST"
ok "put-image retags by manifest; the same retag again is ImageAlreadyExistsException"

# batch-get-image failures are reported, not thrown
out=$(must awsx ecr batch-get-image --repository-name team/web \
    --image-ids imageTag=v1 imageTag=nope "imageDigest=sha256:$(printf 0%.0s {1..64})" \
    --query '[length(images), failures[].failureCode]' --output json | jq -c .)
expect_eq "$out" '[1,["ImageNotFound","ImageNotFound"]]' "batch-get-image per-id failures"
expect_aws_error RepositoryNotFoundException awsx ecr batch-get-image --repository-name team/none \
    --image-ids imageTag=v1
ok "batch-get-image reports unknown ids as failures"

# immutability through both APIs: another manifest under v1
push "$T/img2" team/web:v1 && fail "skopeo overwrote an immutable tag"
[[ "$(cat "$T/push.err")" == *"immutable"* ]] || fail "OCI refusal does not say why: $(cat "$T/push.err")"
M2=$(cat "$T/img2/blobs/sha256/${img2#sha256:}")
push "$T/img2" team/web:candidate || fail "push candidate: $(cat "$T/push.err")"
expect_aws_error ImageTagAlreadyExistsException awsx ecr put-image --repository-name team/web \
    --image-tag v1 --image-manifest "$M2"
got=$(must awsx ecr batch-get-image --repository-name team/web --image-ids imageTag=v1 \
    --query 'images[0].imageId.imageDigest' --output text)
expect_eq "$got" "$img1" "v1 still names the first image"
ok "an immutable tag is refused through the OCI API (skopeo) and PutImage"

# mutable repository: list-images --filter UNTAGGED | batch-delete-image
must awsx ecr create-repository --repository-name team/api >/dev/null
push "$T/img1" team/api:latest || fail "push api:latest: $(cat "$T/push.err")"
push "$T/img2" team/api:latest || fail "push api:latest again: $(cat "$T/push.err")"
untagged=$(must awsx ecr list-images --repository-name team/api --filter tagStatus=UNTAGGED \
    --query 'imageIds[].imageDigest' --output text)
expect_eq "$untagged" "$img1" "the replaced image is untagged"
tagged=$(must awsx ecr list-images --repository-name team/api --filter tagStatus=TAGGED \
    --query 'imageIds[].[imageDigest,imageTag]' --output text)
expect_eq "$tagged" "$img2	latest" "list-images TAGGED"
ids=$(must awsx ecr list-images --repository-name team/api --filter tagStatus=UNTAGGED --query 'imageIds[*]' --output json)
out=$(must awsx ecr batch-delete-image --repository-name team/api --image-ids "$ids" \
    --query '[imageIds[].imageDigest, length(failures)]' --output json | jq -c .)
expect_eq "$out" "[[\"$img1\"],0]" "batch-delete-image of the untagged images"
all=$(must awsx ecr list-images --repository-name team/api --query 'imageIds[].imageDigest' --output text)
expect_eq "$all" "$img2" "only the tagged image is left"
ok "list-images --filter tagStatus=UNTAGGED piped into batch-delete-image cleans up"

# by tag: the last tag takes the image with it; unknown ids are failures
out=$(must awsx ecr batch-delete-image --repository-name team/api --image-ids imageTag=latest imageTag=gone \
    --query '[imageIds[].imageTag, failures[].[imageId.imageTag, failureCode]]' --output json | jq -c .)
expect_eq "$out" '[["latest"],[["gone","ImageNotFound"]]]' "batch-delete-image by tag"
n=$(must awsx ecr list-images --repository-name team/api --query 'length(imageIds)')
expect_eq "$n" 0 "removing the last tag deletes the image"
pw=$(must awsx ecr get-login-password)
req GET "/v2/team/api/manifests/$img2" -H "Authorization: $(basic_auth "$pw")"
expect_status 404 "the deleted image is gone from /v2/ too"
ok "batch-delete-image by tag deletes the image with its last tag"

# an index's child cannot be deleted while the index lists it
must awsx ecr create-repository --repository-name team/multi >/dev/null
push "$T/multi" team/multi:v1 || fail "push index: $(cat "$T/push.err")"
child=$(jq -r '.manifests[0].digest' "$T/multi/blobs/sha256/${multi#sha256:}")
out=$(must awsx ecr batch-delete-image --repository-name team/multi --image-ids imageDigest="$child" \
    --query 'failures[0].failureCode' --output text)
expect_eq "$out" ImageReferencedByManifestList "child of an index"
n=$(must awsx ecr list-images --repository-name team/multi --filter tagStatus=UNTAGGED --query 'length(imageIds)')
expect_eq "$n" 2 "both children are listed as untagged images"
ok "deleting an index's child answers ImageReferencedByManifestList"

# pagination: the CLI follows nextToken
for i in 1 2 3; do
    must awsx ecr put-image --repository-name team/web --image-tag "p$i" --image-manifest "$M2" >/dev/null
done
n=$(must awsx ecr list-images --repository-name team/web --page-size 1 --query 'length(imageIds)')
expect_eq "$n" 6 "list-images across pages (v1, release, candidate, p1..p3)"
ok "list-images pages with maxResults/nextToken"

# delete-repository: refused while images remain, then --force
expect_aws_error RepositoryNotEmptyException awsx ecr delete-repository --repository-name team/web
out=$(must awsx ecr delete-repository --repository-name team/web --force --query repository.repositoryName --output text)
expect_eq "$out" team/web "delete-repository --force"
expect_aws_error RepositoryNotFoundException awsx ecr describe-images --repository-name team/web
skopeo inspect --authfile "$AF" --tls-verify=false "docker://$REG/team/web:v1" >/dev/null 2>&1 &&
    fail "the force-deleted repository still serves v1"
ok "delete-repository --force removes the repository and its images"

stop_berth
fsck_clean
