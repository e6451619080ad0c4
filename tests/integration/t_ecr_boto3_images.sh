#!/usr/bin/env bash
# Images, layers and referrers through boto3 (ecr_boto3_images.py): layer uploads in parts,
# put_image of an image and two referrers, list/describe/batch_get with filters and paginators,
# list_image_referrers with artifactTypes and pagination, batch_delete_image failures.
. "$(dirname "$0")/lib_ecr.sh"
start_ecr_berth
"$PY" "$HERE/ecr_boto3_images.py" "$URL" "$ADMIN_KEY" "$ADMIN_SECRET" || fail "ecr_boto3_images.py failed"
ok "boto3: layers, images, referrers, scanning configuration, download URL, policies, DescribeRegistry"
# DescribeRegistry through the CLI too
out=$(must awsx ecr describe-registry --query '[registryId, length(replicationConfiguration.rules)]' --output text)
expect_eq "$out" "000000000000	0" "aws ecr describe-registry"
# the OCI referrers API sees what the ECR API stored
pw=$(must awsx ecr get-login-password)
subject=$(must awsx ecr describe-images --repository-name b3/app --image-ids imageTag=v1 --query 'imageDetails[0].imageDigest' --output text)
req GET "/v2/b3/app/referrers/$subject" -H "Authorization: $(basic_auth "$pw")"
expect_status 200 "OCI referrers"
expect_eq "$(jq -r '.manifests[].artifactType' "$BODY")" "application/spdx+json" "OCI referrers after the ECR delete"
ok "the OCI referrers API agrees"
stop_berth
fsck_clean
