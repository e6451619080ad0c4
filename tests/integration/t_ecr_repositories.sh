#!/usr/bin/env bash
# The ECR repository workflow through the real AWS CLI v2 with auth on and create-on-push off:
# create (with settings) / describe (by name, all, paginated) / settings / tags / encryption,
# a skopeo push and pull after get-login-password, delete with and without --force, a push to
# a missing repository, and STS get-caller-identity.
. "$(dirname "$0")/lib_ecr.sh"
start_ecr_berth

# STS: who the bootstrap key is
read -r acct arn < <(must awsx sts get-caller-identity --query '[Account, Arn]' --output text)
expect_eq "$acct" "$ACCOUNT" "get-caller-identity Account"
expect_eq "$arn" "arn:aws:iam::$ACCOUNT:root" "get-caller-identity Arn of the bootstrap admin"
ok "sts get-caller-identity: $acct $arn"

# the seed workflow: create with scanning + immutability
out=$(must awsx ecr create-repository --repository-name team/app \
    --image-scanning-configuration scanOnPush=true --image-tag-mutability IMMUTABLE)
r=$(jq -c .repository <<<"$out")
expect_eq "$(jq -r .repositoryArn <<<"$r")" "arn:aws:ecr:$REGION:$ACCOUNT:repository/team/app" "repositoryArn"
expect_eq "$(jq -r .registryId <<<"$r")" "$ACCOUNT" "registryId"
expect_eq "$(jq -r .repositoryName <<<"$r")" "team/app" "repositoryName"
expect_eq "$(jq -r .repositoryUri <<<"$r")" "$REG/team/app" "repositoryUri"
expect_eq "$(jq -r .imageTagMutability <<<"$r")" "IMMUTABLE" "imageTagMutability"
expect_eq "$(jq -r .imageScanningConfiguration.scanOnPush <<<"$r")" "true" "scanOnPush"
expect_eq "$(jq -r .encryptionConfiguration.encryptionType <<<"$r")" "AES256" "default encryptionType"
created=$(jq -r .createdAt <<<"$r")
[[ "$created" =~ ^20[0-9]{2}-[01][0-9]-[0-3][0-9]T ]] || fail "createdAt '$created' is not a timestamp"
cs=$(date -d "$created" +%s)
now=$(date +%s)
((cs <= now + 5 && cs >= now - 300)) || fail "createdAt $created is not about now"
ok "create-repository: ARN, registryId, URI, createdAt, IMMUTABLE, scanOnPush"

expect_aws_error RepositoryAlreadyExistsException awsx ecr create-repository --repository-name team/app
[[ "$AWS_ERR" == *team/app* ]] || fail "RepositoryAlreadyExistsException does not name the repository: $AWS_ERR"
ok "duplicate create -> RepositoryAlreadyExistsException"

# describe by name and all
d=$(must awsx ecr describe-repositories --repository-names team/app)
expect_eq "$(jq -r '.repositories | length' <<<"$d")" 1 "describe by name: count"
expect_eq "$(jq -r '.repositories[0].repositoryArn' <<<"$d")" "arn:aws:ecr:$REGION:$ACCOUNT:repository/team/app" "describe by name: ARN"
expect_eq "$(jq -r '.repositories[0].imageTagMutability' <<<"$d")" IMMUTABLE "describe by name: mutability"
expect_eq "$(jq -r '.repositories[0].createdAt' <<<"$d")" "$created" "describe by name: createdAt stable"
expect_eq "$(ecr_repo_names)" "team/app" "describe all"
expect_aws_error RepositoryNotFoundException awsx ecr describe-repositories --repository-names team/nope
[[ "$AWS_ERR" == *team/nope* ]] || fail "RepositoryNotFoundException does not name the repository: $AWS_ERR"
ok "describe-repositories by name / all / unknown name"

# pagination
ecr_batch <<'EOF'
ok create_repository {"repositoryName": "page/r1"}
ok create_repository {"repositoryName": "page/r2"}
ok create_repository {"repositoryName": "page/r3"}
ok create_repository {"repositoryName": "page/r4"}
ok create_repository {"repositoryName": "page/r5"}
EOF
names=$(awsx ecr describe-repositories --page-size 2 --query 'repositories[].repositoryName' --output text |
    tr '\t' '\n' | sort | tr '\n' ' ')
expect_eq "$names" "page/r1 page/r2 page/r3 page/r4 page/r5 team/app " "--page-size 2 follows nextToken to all 6"
p1=$(must awsx ecr describe-repositories --max-items 2)
expect_eq "$(jq -r '.repositories | length' <<<"$p1")" 2 "--max-items 2: one page"
tok=$(jq -r '.NextToken // empty' <<<"$p1")
[ -n "$tok" ] || fail "--max-items 2 gave no NextToken: $p1"
p2=$(must awsx ecr describe-repositories --max-items 10 --starting-token "$tok")
all=$( (jq -r '.repositories[].repositoryName' <<<"$p1"; jq -r '.repositories[].repositoryName' <<<"$p2") | sort | tr '\n' ' ')
expect_eq "$all" "page/r1 page/r2 page/r3 page/r4 page/r5 team/app " "the two pages together, no duplicates"
ok "pagination: --page-size follows nextToken, --max-items/NextToken/--starting-token"

# put-image-tag-mutability
o=$(must awsx ecr put-image-tag-mutability --repository-name page/r1 --image-tag-mutability IMMUTABLE)
expect_eq "$(jq -r .imageTagMutability <<<"$o")" IMMUTABLE "put-image-tag-mutability output"
expect_eq "$(jq -r .repositoryName <<<"$o")" page/r1 "put-image-tag-mutability repositoryName"
expect_eq "$(jq -r .registryId <<<"$o")" "$ACCOUNT" "put-image-tag-mutability registryId"
# *_WITH_EXCLUSION needs filters: CLI 2.9.19 cannot send them, so the CLI call must be refused
expect_aws_error InvalidParameterException awsx ecr put-image-tag-mutability --repository-name page/r1 --image-tag-mutability IMMUTABLE_WITH_EXCLUSION
# ...and boto3 (which knows the member) sets and reads them back
"$PY" - "$URL" "$ADMIN_KEY" "$ADMIN_SECRET" <<'EOF' || fail "IMMUTABLE_WITH_EXCLUSION via boto3"
import sys, boto3
url, k, s = sys.argv[1:]
ecr = boto3.client("ecr", endpoint_url=url, region_name="us-east-1", aws_access_key_id=k, aws_secret_access_key=s)
f = [{"filterType": "WILDCARD", "filter": "latest"}, {"filterType": "WILDCARD", "filter": "dev-*"}]
o = ecr.put_image_tag_mutability(repositoryName="page/r1", imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                                 imageTagMutabilityExclusionFilters=f)
assert o["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION", o
assert o.get("imageTagMutabilityExclusionFilters") == f, o
r = ecr.describe_repositories(repositoryNames=["page/r1"])["repositories"][0]
assert r["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION", r
assert r["imageTagMutabilityExclusionFilters"] == f, r
# the service's own pagination members (6 repositories exist now)
p1 = ecr.describe_repositories(maxResults=4)
assert len(p1["repositories"]) == 4 and p1.get("nextToken"), p1
p2 = ecr.describe_repositories(maxResults=4, nextToken=p1["nextToken"])
assert len(p2["repositories"]) == 2 and "nextToken" not in p2, p2
names = [x["repositoryName"] for x in p1["repositories"] + p2["repositories"]]
assert sorted(names) == ["page/r%d" % i for i in range(1, 6)] + ["team/app"], names
# scanOnPush goes both ways; tag-resource overwrites a key
ecr.put_image_scanning_configuration(repositoryName="page/r4", imageScanningConfiguration={"scanOnPush": True})
ecr.put_image_scanning_configuration(repositoryName="page/r4", imageScanningConfiguration={"scanOnPush": False})
r = ecr.describe_repositories(repositoryNames=["page/r4"])["repositories"][0]
assert r["imageScanningConfiguration"] == {"scanOnPush": False}, r
arn = r["repositoryArn"]
ecr.tag_resource(resourceArn=arn, tags=[{"Key": "env", "Value": "prod"}])
ecr.tag_resource(resourceArn=arn, tags=[{"Key": "env", "Value": "dev"}])
assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "env", "Value": "dev"}]
ecr.untag_resource(resourceArn=arn, tagKeys=["env"])
assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == []
for call in (lambda: ecr.list_tags_for_resource(resourceArn=arn.replace("page/r4", "page/none")),
             lambda: ecr.describe_repositories(repositoryNames=["team/app", "team/nope"])):
    try:
        call()
        raise AssertionError("no error")
    except ecr.exceptions.RepositoryNotFoundException:
        pass
EOF
expect_eq "$(awsx ecr describe-repositories --repository-names page/r1 --query 'repositories[0].imageTagMutability' --output text)" \
    IMMUTABLE_WITH_EXCLUSION "WITH_EXCLUSION read back through the CLI"
o=$(must awsx ecr put-image-tag-mutability --repository-name page/r1 --image-tag-mutability MUTABLE)
expect_eq "$(jq -r .imageTagMutability <<<"$o")" MUTABLE "back to MUTABLE"
ok "put-image-tag-mutability incl. IMMUTABLE_WITH_EXCLUSION with filters; maxResults/nextToken; settings/tags via boto3"

# put-image-scanning-configuration
o=$(must awsx ecr put-image-scanning-configuration --repository-name page/r2 --image-scanning-configuration scanOnPush=true)
expect_eq "$(jq -r .imageScanningConfiguration.scanOnPush <<<"$o")" true "put-image-scanning-configuration output"
expect_eq "$(jq -r .repositoryName <<<"$o")" page/r2 "put-image-scanning-configuration repositoryName"
ok "put-image-scanning-configuration"

# tags
rarn="arn:aws:ecr:$REGION:$ACCOUNT:repository/page/r3"
must awsx ecr tag-resource --resource-arn "$rarn" --tags Key=team,Value=ml Key=env,Value=prod >/dev/null
t=$(awsx ecr list-tags-for-resource --resource-arn "$rarn" | jq -c '.tags | sort_by(.Key)')
expect_eq "$t" '[{"Key":"env","Value":"prod"},{"Key":"team","Value":"ml"}]' "list-tags-for-resource"
must awsx ecr untag-resource --resource-arn "$rarn" --tag-keys env >/dev/null
t=$(awsx ecr list-tags-for-resource --resource-arn "$rarn" | jq -c '.tags')
expect_eq "$t" '[{"Key":"team","Value":"ml"}]' "untag-resource"
o=$(must awsx ecr create-repository --repository-name tagged/at-create --tags Key=owner,Value=berth)
"$PY" - "$URL" "$ADMIN_KEY" "$ADMIN_SECRET" "$(jq -r .repository.repositoryArn <<<"$o")" <<'EOF' || fail "tags given at create"
import sys, boto3
url, k, s, arn = sys.argv[1:]
ecr = boto3.client("ecr", endpoint_url=url, region_name="us-east-1", aws_access_key_id=k, aws_secret_access_key=s)
t = ecr.list_tags_for_resource(resourceArn=arn)["tags"]
assert t == [{"Key": "owner", "Value": "berth"}], t
try:
    ecr.list_tags_for_resource(resourceArn="not-an-arn")
    raise AssertionError("not-an-arn accepted")
except ecr.exceptions.InvalidParameterException:
    pass
EOF
ok "tag-resource / list-tags-for-resource / untag-resource"

# encryption configuration is recorded and echoed back
kms="arn:aws:kms:$REGION:$ACCOUNT:key/1234abcd-12ab-34cd-56ef-1234567890ab"
o=$(must awsx ecr create-repository --repository-name enc/kms --encryption-configuration encryptionType=KMS,kmsKey="$kms")
expect_eq "$(jq -r .repository.encryptionConfiguration.encryptionType <<<"$o")" KMS "encryptionType KMS"
expect_eq "$(jq -r .repository.encryptionConfiguration.kmsKey <<<"$o")" "$kms" "kmsKey echoed"
d=$(awsx ecr describe-repositories --repository-names enc/kms | jq -c '.repositories[0].encryptionConfiguration')
expect_eq "$d" "{\"encryptionType\":\"KMS\",\"kmsKey\":\"$kms\"}" "encryption read back"
ok "encryption configuration KMS + kmsKey recorded"

# skopeo push / pull through get-login-password
A320=$TESTDATA/alpine-minirootfs-3.20.3-x86_64.tar.gz
single=$(python3 "$HERE/mkimage.py" single "$T/single" "$A320")
pw=$(must awsx ecr get-login-password)
printf '%s\n' "$pw" | skopeo login --tls-verify=false --authfile "$T/auth.json" --username AWS --password-stdin "$REG" \
    >/dev/null 2>"$T/sk.err" || fail "skopeo login: $(cat "$T/sk.err")"
"${SKOPEO[@]}" copy -q --authfile "$T/auth.json" --dest-tls-verify=false "oci:$T/single:latest" \
    "docker://$REG/team/app:v1" 2>"$T/sk.err" || fail "skopeo push to team/app: $(cat "$T/sk.err")"
got=$(skopeo inspect --authfile "$T/auth.json" --tls-verify=false --raw "docker://$REG/team/app:v1" | sha256sum | cut -d' ' -f1)
expect_eq "sha256:$got" "$single" "manifest digest after push"
"${SKOPEO[@]}" copy -q --authfile "$T/auth.json" --src-tls-verify=false "docker://$REG/team/app:v1" "oci:$T/out:latest" ||
    fail "skopeo pull"
for f in "$T"/single/blobs/sha256/*; do
    cmp -s "$f" "$T/out/blobs/sha256/$(basename "$f")" || fail "blob $(basename "$f") differs after pull"
done
# without the login, the pull is refused
if skopeo inspect --authfile "$T/none.json" --tls-verify=false --raw "docker://$REG/team/app:v1" >/dev/null 2>"$T/sk.err"; then
    fail "anonymous skopeo inspect succeeded"
fi
ok "skopeo login with get-login-password, push and byte-identical pull ($single)"

# push to a missing repository: NAME_UNKNOWN, nothing created
if "${SKOPEO[@]}" copy -q --authfile "$T/auth.json" --dest-tls-verify=false "oci:$T/single:latest" \
    "docker://$REG/team/missing:v1" 2>"$T/sk.err"; then
    fail "push to a missing repository succeeded"
fi
req POST /v2/team/missing/blobs/uploads/ -H "Authorization: $(basic_auth "$pw")" -H 'Content-Length: 0'
want_error 404 NAME_UNKNOWN "upload to a missing repository"
ok "push to a missing repository fails with NAME_UNKNOWN and creates nothing"

# delete
expect_aws_error RepositoryNotEmptyException awsx ecr delete-repository --repository-name team/app
o=$(must awsx ecr delete-repository --repository-name team/app --force)
expect_eq "$(jq -r .repository.repositoryName <<<"$o")" team/app "delete --force output name"
expect_eq "$(jq -r .repository.repositoryArn <<<"$o")" "arn:aws:ecr:$REGION:$ACCOUNT:repository/team/app" "delete --force output ARN"
expect_aws_error RepositoryNotFoundException awsx ecr describe-repositories --repository-names team/app
if skopeo inspect --authfile "$T/auth.json" --tls-verify=false --raw "docker://$REG/team/app:v1" >/dev/null 2>&1; then
    fail "image still resolves after delete-repository --force"
fi
req GET /v2/team/app/manifests/v1 -H "Authorization: $(basic_auth "$pw")"
want_error 404 NAME_UNKNOWN "manifest of a deleted repository"
req GET /v2/_catalog -H "Authorization: $(basic_auth "$pw")"
expect_status 200 "catalog"
[ "$(jq -r '.repositories // [] | map(select(. == "team/app")) | length' "$BODY")" = 0 ] ||
    fail "catalog still lists team/app: $(cat "$BODY")"
o=$(must awsx ecr delete-repository --repository-name page/r5)
expect_eq "$(jq -r .repository.repositoryName <<<"$o")" page/r5 "delete of an empty repository"
ok "delete-repository: RepositoryNotEmptyException, --force removes the image, NotFound after"

# an operation of the model Berth does not implement yet says so clearly
expect_aws_error UnsupportedOperationException awsx ecr start-image-scan --repository-name page/r1 --image-id imageTag=v1
[[ "$AWS_ERR" == *StartImageScan* ]] || fail "UnsupportedOperationException does not name StartImageScan: $AWS_ERR"
ok "StartImageScan: UnsupportedOperationException naming the operation"

# (team/missing was never created)
expect_eq "$(ecr_repo_names)" "enc/kms page/r1 page/r2 page/r3 page/r4 tagged/at-create" "repositories at the end"
stop_berth
fsck_clean
ok "clean stop; fsck clean"
