#!/usr/bin/env bash
# Put/Get/DeleteLifecyclePolicy with the AWS CLI v2; every kind of bad policy rejected with
# InvalidParameterException naming the rule and the reason, the previous policy left in place;
# tag prefix versus pattern selection; sinceImagePulled; tag immutability not protecting an
# image from expiry (as in ECR); the event log; the background worker's periodic run.
. "$(dirname "$0")/lib_lifecycle.sh"
start_lc_berth

GOOD='{"rules":[{"rulePriority":1,"description":"keep 2 untagged","selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}}]}'

must awsx ecr create-repository --repository-name app >/dev/null
expect_aws_error LifecyclePolicyNotFoundException awsx ecr get-lifecycle-policy --repository-name app
[[ "$AWS_ERR" == *"Lifecycle policy does not exist for the repository with name 'app' in the registry with id '000000000000'"* ]] ||
    fail "LifecyclePolicyNotFoundException message: $AWS_ERR"
expect_aws_error LifecyclePolicyNotFoundException awsx ecr delete-lifecycle-policy --repository-name app
expect_aws_error RepositoryNotFoundException awsx ecr put-lifecycle-policy --repository-name nope \
    --lifecycle-policy-text "$GOOD"
ok "no policy: LifecyclePolicyNotFoundException; no repository: RepositoryNotFoundException"

out=$(must awsx ecr put-lifecycle-policy --repository-name app --lifecycle-policy-text "$GOOD" \
    --query '[registryId,repositoryName,lifecyclePolicyText]' --output json)
expect_eq "$(jq -c . <<<"$out")" "$(jq -cn --arg t "$GOOD" '["000000000000","app",$t]')" "put-lifecycle-policy output"
got=$(must awsx ecr get-lifecycle-policy --repository-name app --query lifecyclePolicyText --output text)
expect_eq "$got" "$GOOD" "get-lifecycle-policy text"
expect_eq "$(must awsx ecr get-lifecycle-policy --repository-name app --query lastEvaluatedAt --output text)" None \
    "lastEvaluatedAt before any run"
ok "put-lifecycle-policy stores the text verbatim; get-lifecycle-policy returns it"

# bad policies: each rejected, naming the rule and why; the good policy stays
bad() { # bad WANT_MESSAGE_PART POLICY
    printf '%s' "$2" >"$T/bad.json"
    expect_aws_error InvalidParameterException awsx ecr put-lifecycle-policy --repository-name app \
        --lifecycle-policy-text "file://$T/bad.json"
    [[ "$AWS_ERR" == *"Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: "*"$1"* ]] ||
        fail "rejection of $2 does not say '$1': $AWS_ERR"
    expect_eq "$(must awsx ecr get-lifecycle-policy --repository-name app --query lifecyclePolicyText --output text)" \
        "$GOOD" "policy after a rejected put"
}
sel() { printf '{"rulePriority":%s,"selection":{%s},"action":{"type":"expire"}}' "$1" "$2"; }
rules() {
    local IFS=,
    printf '{"rules":[%s]}' "$*"
}
C1='"countType":"imageCountMoreThan","countNumber":1'
bad "rulePriority 3 is used by more than one rule" \
    "$(rules "$(sel 3 '"tagStatus":"tagged","tagPrefixList":["a"],'"$C1")" "$(sel 3 '"tagStatus":"tagged","tagPrefixList":["b"],'"$C1")")"
bad 'rule with rulePriority 1 has tagStatus "any", so it must have the highest rulePriority (2 is higher)' \
    "$(rules "$(sel 1 '"tagStatus":"any",'"$C1")" "$(sel 2 '"tagStatus":"untagged",'"$C1")")"
bad 'rule with rulePriority 4: tagStatus "tagged" needs a tagPrefixList or a tagPatternList' \
    "$(rules "$(sel 4 '"tagStatus":"tagged",'"$C1")")"
bad "rule with rulePriority 1: countUnit must not be given with countType imageCountMoreThan" \
    "$(rules "$(sel 1 '"tagStatus":"untagged","countUnit":"days",'"$C1")")"
bad 'rule with rulePriority 1: unknown field "tagPrefix"' \
    "$(rules "$(sel 1 '"tagStatus":"tagged","tagPrefix":"v",'"$C1")")"
bad 'policy: unknown field "version"' \
    "{\"version\":1,\"rules\":[$(sel 1 '"tagStatus":"untagged",'"$C1")]}"
bad "tagPrefixList and tagPatternList cannot be used together" \
    "$(rules "$(sel 1 '"tagStatus":"tagged","tagPrefixList":["a"],"tagPatternList":["b*"],'"$C1")")"
bad 'tag pattern "a*b*c*d*e*f" has 5 wildcards, at most 4 are allowed' \
    "$(rules "$(sel 1 '"tagStatus":"tagged","tagPatternList":["a*b*c*d*e*f"],'"$C1")")"
bad "both select untagged images" \
    "$(rules "$(sel 1 '"tagStatus":"untagged",'"$C1")" "$(sel 2 '"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":3')")"
bad "countNumber must be an integer from 1" \
    "$(rules "$(sel 1 '"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":0')")"
bad "invalid JSON" '{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]'
ok "bad policies are rejected with the rule and the reason; the previous policy stays"

# A text shorter than the model's 100 characters: the CLI refuses it itself, a raw call gets
# the server's answer.
signed_many <<<'AmazonEC2ContainerRegistry_V20150921.PutLifecyclePolicy {"repositoryName":"app","lifecyclePolicyText":"{\"rules\":[]}"}'
raw_result 1
expect_status 400 "short policy text"
expect_eq "$(jq -r .__type "$BODY")" InvalidParameterException "short policy text"
grep -q "must be 100 to 30720 characters long" "$BODY" || fail "short text message: $(cat "$BODY")"
ok "a policy text outside 100..30720 characters is refused"

out=$(must awsx ecr delete-lifecycle-policy --repository-name app --query lifecyclePolicyText --output text)
expect_eq "$out" "$GOOD" "delete-lifecycle-policy returns the deleted text"
expect_aws_error LifecyclePolicyNotFoundException awsx ecr get-lifecycle-policy --repository-name app
ok "delete-lifecycle-policy returns the policy and removes it"

# tag prefix versus tag pattern
spec=$(imgs "$(img A $((9 * DAY)) release-1)" "$(img B $((8 * DAY)) pre-release-1)" \
    "$(img C $((7 * DAY)) release)" "$(img D $((6 * DAY)) v1-release)")
age1() { printf '{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","%s":["%s"],"countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}}]}' "$1" "$2"; }
scenario sel/prefix "$spec"
put_policy sel/prefix "$(age1 tagPrefixList release)"
expect_eq "$(expired_by_run sel/prefix)" A,C "tagPrefixList release"
scenario sel/pattern "$spec"
put_policy sel/pattern "$(age1 tagPatternList '*release*')"
expect_eq "$(expired_by_run sel/pattern)" A,B,C,D "tagPatternList *release*"
scenario sel/exact "$spec"
put_policy sel/exact "$(age1 tagPatternList release)"
expect_eq "$(expired_by_run sel/exact)" C "tagPatternList release (no wildcard: the whole tag)"
ok "a prefix matches the start of a tag, a pattern the whole tag"

# sinceImagePulled (Berth): days since the last recorded pull, the push time if never pulled
scenario pulled "$(imgs "$(img A $((90 * DAY)) a)" "$(img B $((90 * DAY)) b)" "$(img C $((5 * DAY)) c)")"
echo $((NOW - 2 * DAY)) >"$CLOCK"
req GET /v2/pulled/manifests/a -H "Authorization: $AUTHZ" -H "Accept: application/vnd.oci.image.manifest.v1+json"
expect_status 200 "pull a"
echo "$NOW" >"$CLOCK"
put_policy pulled '{"rules":[{"rulePriority":1,"description":"not pulled for 30 days","selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30},"action":{"type":"expire"}}]}'
expect_eq "$(expired_by_run pulled)" B "sinceImagePulled 30 days"
ok "sinceImagePulled expires by last pull time, falling back to the push time"

# Tag immutability does not protect an image from expiry (ECR behaves the same way).
must awsx ecr create-repository --repository-name locked --image-tag-mutability IMMUTABLE >/dev/null
must "$PY" "$HERE/lifecycle_images.py" "$URL" "$AUTHZ" "$CLOCK" "$NOW" locked \
    "$(imgs "$(img A $((3 * DAY)) v1)" "$(img B "$DAY" v2)")" >"$T/locked.map.json"
jq -r 'to_entries[] | "\(.key) \(.value)"' "$T/locked.map.json" >"$T/locked.map"
echo "$NOW" >"$CLOCK"
put_policy locked '{"rules":[{"rulePriority":1,"description":"keep one","selection":{"tagStatus":"tagged","tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}'
expect_eq "$(expired_by_run locked)" A "immutable repository"
expect_eq "$(remaining locked)" B "immutable repository"
ok "tag immutability does not protect an image from lifecycle expiry"

# --dry-run reports and changes nothing
scenario dry "$(imgs "$(img A $((3 * DAY)))" "$(img B "$DAY")")"
put_policy dry "$GOOD"
put_policy dry '{"rules":[{"rulePriority":1,"description":"keep one untagged","selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}'
lc_run --repository dry --dry-run
grep -q "^would expire 000000000000/dry@$(digest_of dry A) rule 1 tags \[\]" "$T/lc.out" || fail "dry run report: $(cat "$T/lc.out")"
expect_eq "$(remaining dry)" A,B "after a dry run"
ok "berth lifecycle run --dry-run reports without deleting"

# The background worker applies every policy each --lifecycle-interval seconds.
stop_berth
start_lc_berth --lifecycle-interval 1
for _ in $(seq 1 100); do
    [ "$(remaining dry)" = B ] && break
    sleep 0.2
done
expect_eq "$(remaining dry)" B "after the background run"
ok "the server's lifecycle worker expires on its interval"

# Every expiry is in the event log: what, when, by which rule.
stop_berth
ev=$(db_scalar "SELECT kind || ' ' || repository || ' ' || digest || ' ' || actor || ' ' || at || ' ' || json_extract(detail, '\$.rulePriority') FROM events WHERE repository = 'dry'")
expect_eq "$ev" "IMAGE_EXPIRED dry $(digest_of dry A) lifecycle-policy $NOW 1" "event of the background expiry"
n=$(db_scalar "SELECT count(*) FROM events WHERE kind = 'IMAGE_EXPIRED' AND actor = 'lifecycle-policy'")
expect_eq "$n" 10 "expiry events (A,C + A,B,C,D + C + B + A + A)"
ok "every expiry is recorded in the event log"
fsck_clean

