#!/usr/bin/env bash
# StartLifecyclePolicyPreview / GetLifecyclePolicyPreview with the AWS CLI v2 and boto3: the
# status goes IN_PROGRESS -> COMPLETE (the CLI's waiter and boto3's), previewResults carry
# digest, tags, push time, action and the rule, the summary counts them, filters, imageIds and
# pagination work, and a preview deletes nothing.
. "$(dirname "$0")/lib_lifecycle.sh"
start_lc_berth

scenario prev "$(imgs "$(img A $((5 * DAY)))" "$(img B $((2 * DAY)))" "$(img C $((9 * DAY)) c1)" \
    "$(img D $((10 * DAY)) v1)" "$(img E $((1 * DAY)) v2)" "$(img F $((2 * DAY)) v3)")"

expect_aws_error LifecyclePolicyPreviewNotFoundException awsx ecr get-lifecycle-policy-preview --repository-name prev
expect_aws_error LifecyclePolicyNotFoundException awsx ecr start-lifecycle-policy-preview --repository-name prev
ok "no preview yet: LifecyclePolicyPreviewNotFoundException; no policy: LifecyclePolicyNotFoundException"

POLICY='{"rules":[{"rulePriority":1,"description":"keep two releases","selection":{"tagStatus":"tagged","tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}},{"rulePriority":2,"description":"untagged older than three days","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":3},"action":{"type":"expire"}}]}'
put_policy prev "$POLICY"
out=$(must awsx ecr start-lifecycle-policy-preview --repository-name prev --query '[status,lifecyclePolicyText]' --output json)
expect_eq "$(jq -r '.[0]' <<<"$out")" IN_PROGRESS "start-lifecycle-policy-preview status"
expect_eq "$(jq -r '.[1]' <<<"$out")" "$POLICY" "start-lifecycle-policy-preview previews the stored policy"
must awsx ecr wait lifecycle-policy-preview-complete --repository-name prev
ok "start-lifecycle-policy-preview answers IN_PROGRESS; the CLI's waiter sees it COMPLETE"

expect_eq "$(must awsx ecr get-lifecycle-policy-preview --repository-name prev --query status --output text)" COMPLETE "status"
res=$(must awsx ecr get-lifecycle-policy-preview --repository-name prev --output json)
got=$(jq -r '.previewResults[] | "\(.imageDigest) \(.appliedRulePriority) \(.action.type) \(.imageTags | join("+"))"' <<<"$res" |
    while read -r dg rule act tags; do echo "$(name_of prev "$dg"):$rule:$act:$tags"; done | sort | paste -sd' ' -)
expect_eq "$got" "A:2:EXPIRE: D:1:EXPIRE:v1" "previewResults"
expect_eq "$(jq -r '.summary.expiringImageTotalCount' <<<"$res")" 2 "summary"
pushed=$(jq -r --arg d "$(digest_of prev D)" '.previewResults[] | select(.imageDigest == $d) | .imagePushedAt' <<<"$res")
expect_eq "$pushed" "$(date -u -d @$((NOW - 10 * DAY)) +%Y-%m-%dT%H:%M:%S+00:00)" "imagePushedAt of D"
ok "previewResults: digest, tags, push time, EXPIRE and appliedRulePriority; summary"

tagged=$(must awsx ecr get-lifecycle-policy-preview --repository-name prev --filter tagStatus=TAGGED \
    --query 'previewResults[].imageDigest' --output text)
expect_eq "$(names prev $tagged)" D "filter tagStatus=TAGGED"
byid=$(must awsx ecr get-lifecycle-policy-preview --repository-name prev --image-ids "imageDigest=$(digest_of prev A)" \
    --query 'previewResults[].imageDigest' --output text)
expect_eq "$(names prev $byid)" A "--image-ids"
paged=$(must awsx ecr get-lifecycle-policy-preview --repository-name prev --page-size 1 \
    --query 'previewResults[].imageDigest' --output text)
# shellcheck disable=SC2086
expect_eq "$(names prev $paged)" A,D "--page-size 1 (the CLI follows nextToken)"
ok "filter, --image-ids and pagination"

expect_eq "$(remaining prev)" A,B,C,D,E,F "after the preview"
ok "a preview deletes nothing"

# An explicit text previews that text and leaves the stored policy alone.
OTHER='{"rules":[{"rulePriority":1,"description":"keep only the newest image","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}'
must awsx ecr start-lifecycle-policy-preview --repository-name prev --lifecycle-policy-text "$OTHER" >/dev/null
must awsx ecr wait lifecycle-policy-preview-complete --repository-name prev
n=$(must awsx ecr get-lifecycle-policy-preview --repository-name prev --query 'summary.expiringImageTotalCount')
expect_eq "$n" 5 "preview of an explicit policy"
expect_eq "$(must awsx ecr get-lifecycle-policy --repository-name prev --query lifecyclePolicyText --output text)" "$POLICY" \
    "stored policy after previewing another"
expect_aws_error InvalidParameterException awsx ecr start-lifecycle-policy-preview --repository-name prev \
    --lifecycle-policy-text "${OTHER/\"any\"/\"all\"}"
ok "a preview of an explicit text; an invalid text is refused"

# The same through boto3, on a fresh repository.
scenario prev2 "$(imgs "$(img A $((5 * DAY)))" "$(img B $((2 * DAY)))" \
    "$(img D $((10 * DAY)) v1)" "$(img E $((1 * DAY)) v2)" "$(img F $((2 * DAY)) v3)")"
AWS_ENDPOINT_URL= must "$PY" "$HERE/lifecycle_boto3.py" "$URL" prev2 "$(cat "$T/prev2.map.json")"
ok "boto3: put/get/delete, the preview waiter and paginator, typed fields, modeled exceptions"

lc_finish
