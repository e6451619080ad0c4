#!/usr/bin/env bash
# Authorization: identity policies (none, one repository, NotAction, Deny), repository policies
# (anonymous pulls, an explicit Deny beating the account admin), cross-account hub-and-spoke
# through repository and registry policies on both planes, Host-addressed registries, and the
# Set/Get/Delete round trips of repository and registry policies with their errors.
. "$(dirname "$0")/lib_ecr.sh"
start_ecr_berth

RARN="arn:aws:ecr:$REGION:$ACCOUNT:repository"
PULL='["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"]'
ecr_batch <<'EOF'
ok create_repository {"repositoryName": "pol/allowed"}
ok create_repository {"repositoryName": "pol/other"}
ok create_repository {"repositoryName": "pub/img"}
ok create_repository {"repositoryName": "hub/base"}
ok create_repository {"repositoryName": "pol/locked"}
EOF
ADMIN_PW=$(must awsx ecr get-login-password)

# a small image pushed over /v2/ with a token; sets IMG_DIGEST, LAYER_DIGEST
gen_bytes "$T/layer" 2048 7
gen_text "$T/config" '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
mk_image "$T/manifest" "$MT_OCI_MANIFEST" "$(desc "$MT_OCI_CONFIG" "$T/config")" "$(desc "$MT_OCI_LAYER" "$T/layer")"
LAYER_DIGEST=$(sha256_of "$T/layer")
push_image() { # push_image REPO TAG PASSWORD [HOST]
    local f a=(-u "AWS:$3")
    [ -z "${4:-}" ] || a+=(-H "Host: $4")
    for f in "$T/config" "$T/layer"; do
        req POST "/v2/$1/blobs/uploads/?digest=$(sha256_of "$f")" "${a[@]}" --data-binary @"$f" \
            -H 'Content-Type: application/octet-stream'
        expect_status 201 "push blob to $1"
    done
    req PUT "/v2/$1/manifests/$2" "${a[@]}" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$T/manifest"
    expect_status 201 "push manifest to $1:$2"
    IMG_DIGEST=$(hget Docker-Content-Digest)
}
pull_status() { # pull_status REPO PASSWORD|- [HOST]: GET the manifest v1; sets STATUS
    local a=()
    [ "$2" = - ] || a+=(-u "AWS:$2")
    [ -z "${3:-}" ] || a+=(-H "Host: $3")
    req GET "/v2/$1/manifests/v1" "${a[@]}" -H "Accept: $MT_OCI_MANIFEST"
}
for r in pol/allowed pol/other pub/img hub/base pol/locked; do push_image "$r" v1 "$ADMIN_PW"; done
ok "admin pushed $IMG_DIGEST to five repositories"

# --- a user without any policy
new_user "$ACCOUNT" dev
DEV_KEY=$NEW_KEY DEV_SECRET=$NEW_SECRET
dev() { as_key "$DEV_KEY" "$DEV_SECRET" awsx "$@"; }
expect_aws_error AccessDeniedException dev ecr create-repository --repository-name dev/new
[[ "$AWS_ERR" == *"arn:aws:iam::$ACCOUNT:user/dev"* ]] || fail "AccessDeniedException does not name the caller: $AWS_ERR"
ecr_batch "$DEV_KEY" "$DEV_SECRET" <<'EOF'
AccessDeniedException describe_repositories {"repositoryNames": ["pol/allowed"]}
AccessDeniedException describe_repositories
AccessDeniedException get_authorization_token
AccessDeniedException list_tags_for_resource {"resourceArn": "arn:aws:ecr:us-east-1:000000000000:repository/pol/allowed"}
AccessDeniedException get_repository_policy {"repositoryName": "pol/allowed"}
AccessDeniedException delete_repository {"repositoryName": "pol/allowed", "force": true}
EOF
ok "a user without policies: AccessDeniedException on create, describe and get-authorization-token"

admin_policy "$ACCOUNT" dev dev-login '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}'
DEV_PW=$(must dev ecr get-login-password)
pull_status pol/allowed "$DEV_PW"
want_error 403 DENIED "pull by a user allowed only GetAuthorizationToken"
ok "a token but no pull permission: 403 DENIED"

# --- identity policy on one repository
admin_policy "$ACCOUNT" dev dev-allowed "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ecr:*\",\"Resource\":\"$RARN/pol/allowed\"}]}"
must dev ecr tag-resource --resource-arn "$RARN/pol/allowed" --tags Key=by,Value=dev >/dev/null
n=$(dev ecr list-tags-for-resource --resource-arn "$RARN/pol/allowed" --query 'tags[0].Value' --output text)
expect_eq "$n" dev "tag and list tags of the allowed repository"
ecr_batch "$DEV_KEY" "$DEV_SECRET" <<'EOF'
ok put_image_scanning_configuration {"repositoryName": "pol/allowed", "imageScanningConfiguration": {"scanOnPush": true}}
ok get_authorization_token
AccessDeniedException list_tags_for_resource {"resourceArn": "arn:aws:ecr:us-east-1:000000000000:repository/pol/other"}
AccessDeniedException put_image_scanning_configuration {"repositoryName": "pol/other", "imageScanningConfiguration": {"scanOnPush": true}}
AccessDeniedException create_repository {"repositoryName": "dev/new"}
EOF
pull_status pol/allowed "$DEV_PW"
expect_status 200 "pull from the allowed repository"
want_hdr Docker-Content-Digest "$IMG_DIGEST" "pull from the allowed repository"
pull_status pol/other "$DEV_PW"
want_error 403 DENIED "pull from another repository"
req POST /v2/pol/other/blobs/uploads/ -u "AWS:$DEV_PW" -H 'Content-Length: 0'
want_error 403 DENIED "push to another repository"
push_image pol/allowed v2 "$DEV_PW"
ok "ecr:* on one repository ARN: allowed there (API, pull, push), denied elsewhere"

# --- NotAction: everything on pol/other except PutImageTagMutability and pushes
admin_policy "$ACCOUNT" dev dev-notaction "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"NotAction\":[\"ecr:PutImageTagMutability\",\"ecr:InitiateLayerUpload\",\"ecr:PutImage\"],\"Resource\":\"$RARN/pol/other\"}]}"
ecr_batch "$DEV_KEY" "$DEV_SECRET" <<'EOF'
ok put_image_scanning_configuration {"repositoryName": "pol/other", "imageScanningConfiguration": {"scanOnPush": true}}
ok list_tags_for_resource {"resourceArn": "arn:aws:ecr:us-east-1:000000000000:repository/pol/other"}
AccessDeniedException put_image_tag_mutability {"repositoryName": "pol/other", "imageTagMutability": "IMMUTABLE"}
AccessDeniedException list_tags_for_resource {"resourceArn": "arn:aws:ecr:us-east-1:000000000000:repository/pub/img"}
EOF
pull_status pol/other "$DEV_PW"
expect_status 200 "NotAction allows the pull"
req POST /v2/pol/other/blobs/uploads/ -u "AWS:$DEV_PW" -H 'Content-Length: 0'
want_error 403 DENIED "NotAction excludes InitiateLayerUpload"
ok "NotAction: the listed actions stay denied, the rest is allowed"

# --- an explicit Deny wins over ecr:*
admin_policy "$ACCOUNT" dev dev-deny "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":[\"ecr:BatchGetImage\",\"ecr:DeleteRepository\"],\"Resource\":\"$RARN/pol/*\"}]}"
pull_status pol/allowed "$DEV_PW"
want_error 403 DENIED "pull denied explicitly"
ecr_batch "$DEV_KEY" "$DEV_SECRET" <<'EOF'
AccessDeniedException delete_repository {"repositoryName": "pol/allowed", "force": true}
AccessDeniedException delete_repository {"repositoryName": "pol/other", "force": true}
ok list_tags_for_resource {"resourceArn": "arn:aws:ecr:us-east-1:000000000000:repository/pol/allowed"}
EOF
ok "an identity Deny beats ecr:* (pull 403, delete AccessDenied)"

# --- repository policy with Principal "*" for pulls: anonymous pulls
pull_status pub/img -
want_error 401 UNAUTHORIZED "anonymous pull before the policy"
must awsx ecr set-repository-policy --repository-name pub/img --policy-text \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"public\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":$PULL}]}" >/dev/null
pull_status pub/img -
expect_status 200 "anonymous manifest GET"
want_hdr Docker-Content-Digest "$IMG_DIGEST" "anonymous manifest GET"
cmp -s "$BODY" "$T/manifest" || fail "anonymous manifest GET: body differs"
req GET "/v2/pub/img/blobs/$LAYER_DIGEST"
expect_status 200 "anonymous blob GET"
cmp -s "$BODY" "$T/layer" || fail "anonymous blob GET: body differs"
req HEAD "/v2/pub/img/blobs/$LAYER_DIGEST"
expect_status 200 "anonymous blob HEAD"
req POST /v2/pub/img/blobs/uploads/ -H 'Content-Length: 0'
want_error 401 UNAUTHORIZED "anonymous push"
req PUT /v2/pub/img/manifests/v9 -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$T/manifest"
want_error 401 UNAUTHORIZED "anonymous manifest PUT"
req DELETE "/v2/pub/img/manifests/$IMG_DIGEST"
want_error 401 UNAUTHORIZED "anonymous delete"
pull_status pol/allowed -
want_error 401 UNAUTHORIZED "anonymous pull of a repository without the policy"
ok "Principal \"*\" pull policy: anonymous GET 200, anonymous push/delete 401, other repositories 401"

# --- an explicit Deny in a repository policy beats the account admin
must awsx ecr set-repository-policy --repository-name pol/locked --policy-text \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":{\"AWS\":\"arn:aws:iam::$ACCOUNT:root\"},\"Action\":[\"ecr:BatchGetImage\",\"ecr:DescribeRepositories\"]}]}" >/dev/null
pull_status pol/locked "$ADMIN_PW"
want_error 403 DENIED "admin pull against a Deny repository policy"
req HEAD "/v2/pol/locked/blobs/$LAYER_DIGEST" -u "AWS:$ADMIN_PW"
expect_status 200 "admin: actions the Deny does not name still work"
ecr_batch <<'EOF'
AccessDeniedException describe_repositories {"repositoryNames": ["pol/locked"]}
ok list_tags_for_resource {"resourceArn": "arn:aws:ecr:us-east-1:000000000000:repository/pol/locked"}
ok delete_repository_policy {"repositoryName": "pol/locked"}
EOF
pull_status pol/locked "$ADMIN_PW"
expect_status 200 "admin pull after the Deny policy is deleted"
ok "a repository-policy Deny on the own account beats the admin; deleting it restores access"

# --- cross-account hub and spoke
SPOKE=111111111111 OTHER=222222222222
must "$BERTH_BIN" admin create-account "$SPOKE" --data-dir "$DATA" >/dev/null
HUB_PULL="{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ecr:GetAuthorizationToken\",\"Resource\":\"*\"},{\"Effect\":\"Allow\",\"Action\":[\"ecr:BatchGetImage\",\"ecr:GetDownloadUrlForLayer\",\"ecr:BatchCheckLayerAvailability\",\"ecr:DescribeRepositories\",\"ecr:GetRepositoryPolicy\"],\"Resource\":\"$RARN/*\"}]}"
new_user "$SPOKE" puller
SP_KEY=$NEW_KEY SP_SECRET=$NEW_SECRET
admin_policy "$SPOKE" puller hub-pull "$HUB_PULL"
sp() { as_key "$SP_KEY" "$SP_SECRET" awsx "$@"; }
expect_eq "$(sp sts get-caller-identity --query Arn --output text)" "arn:aws:iam::$SPOKE:user/puller" "spoke user ARN"
SP_PW=$(must sp ecr get-login-password)
ecr_batch "$SP_KEY" "$SP_SECRET" <<'EOF'
AccessDeniedException describe_repositories {"registryId": "000000000000", "repositoryNames": ["hub/base"]}
AccessDeniedException get_repository_policy {"registryId": "000000000000", "repositoryName": "hub/base"}
EOF
pull_status hub/base "$SP_PW"
want_error 403 DENIED "spoke pull before the repository policy"
# the same account's user without an identity policy, and a third account's user
new_user "$SPOKE" nopolicy
NP_KEY=$NEW_KEY NP_SECRET=$NEW_SECRET
admin_policy "$SPOKE" nopolicy login-only '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}'
new_user "$OTHER" stranger
ST_KEY=$NEW_KEY ST_SECRET=$NEW_SECRET
admin_policy "$OTHER" stranger hub-pull "$HUB_PULL"
{ read -r NP_PW; read -r ST_PW; } < <(login_passwords "$NP_KEY" "$NP_SECRET" "$ST_KEY" "$ST_SECRET")

must awsx ecr set-repository-policy --repository-name hub/base --policy-text \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"spoke\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::$SPOKE:root\"},\"Action\":[\"ecr:BatchGetImage\",\"ecr:GetDownloadUrlForLayer\",\"ecr:BatchCheckLayerAvailability\",\"ecr:DescribeRepositories\",\"ecr:GetRepositoryPolicy\"]}]}" >/dev/null
pt=$(sp ecr get-repository-policy --registry-id "$ACCOUNT" --repository-name hub/base --query policyText --output text)
expect_eq "$(jq -r '.Statement[0].Sid' <<<"$pt")" spoke "spoke get-repository-policy"
pull_status hub/base "$SP_PW"
expect_status 200 "spoke pull after the repository policy"
want_hdr Docker-Content-Digest "$IMG_DIGEST" "spoke pull"
req GET "/v2/hub/base/blobs/$LAYER_DIGEST" -u "AWS:$SP_PW"
expect_status 200 "spoke blob pull"
req POST /v2/hub/base/blobs/uploads/ -u "AWS:$SP_PW" -H 'Content-Length: 0'
want_error 403 DENIED "spoke push (not granted)"
pull_status pol/other "$SP_PW"
want_error 403 DENIED "spoke pull of a repository without a policy"
pull_status hub/base "$NP_PW"
want_error 403 DENIED "spoke user without an identity policy"
pull_status hub/base "$ST_PW"
want_error 403 DENIED "third-account pull"
ecr_batch "$ST_KEY" "$ST_SECRET" <<'EOF'
AccessDeniedException describe_repositories {"registryId": "000000000000", "repositoryNames": ["hub/base"]}
AccessDeniedException get_repository_policy {"registryId": "000000000000", "repositoryName": "hub/base"}
EOF
ecr_batch "$NP_KEY" "$NP_SECRET" <<'EOF'
AccessDeniedException get_repository_policy {"registryId": "000000000000", "repositoryName": "hub/base"}
EOF
ok "cross-account: identity policy alone denied; + repository policy allowed (API and /v2/); third account and policy-less user denied"

# the registry policy grants across all repositories of the registry
pull_status pol/other "$SP_PW"
want_error 403 DENIED "spoke pull of pol/other before the registry policy"
REGPOL="{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"spoke-pull\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::$SPOKE:root\"},\"Action\":$PULL,\"Resource\":\"$RARN/*\"}]}"
o=$(must awsx ecr put-registry-policy --policy-text "$REGPOL")
expect_eq "$(jq -r .registryId <<<"$o")" "$ACCOUNT" "put-registry-policy registryId"
expect_eq "$(jq -c '.policyText | fromjson' <<<"$o")" "$(jq -c . <<<"$REGPOL")" "put-registry-policy policyText"
pull_status pol/other "$SP_PW"
expect_status 200 "spoke pull through the registry policy"
pull_status pol/other "$ST_PW"
want_error 403 DENIED "third account still denied with the registry policy"
g=$(must awsx ecr get-registry-policy)
expect_eq "$(jq -r .registryId <<<"$g")" "$ACCOUNT" "get-registry-policy registryId"
expect_eq "$(jq -c '.policyText | fromjson' <<<"$g")" "$(jq -c . <<<"$REGPOL")" "get-registry-policy policyText"
o=$(must awsx ecr delete-registry-policy)
expect_eq "$(jq -c '.policyText | fromjson' <<<"$o")" "$(jq -c . <<<"$REGPOL")" "delete-registry-policy returns the policy"
ecr_batch <<'EOF'
RegistryPolicyNotFoundException get_registry_policy
RegistryPolicyNotFoundException delete_registry_policy
EOF
pull_status pol/other "$SP_PW"
want_error 403 DENIED "spoke pull after the registry policy is deleted"
ok "Put/Get/DeleteRegistryPolicy round trip, RegistryPolicyNotFoundException; the registry policy grants cross-account pulls"

# the spoke's own registry, addressed by Host <account>.<host>
new_user "$SPOKE" builder
B_KEY=$NEW_KEY B_SECRET=$NEW_SECRET
admin_policy "$SPOKE" builder own-all "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ecr:*\",\"Resource\":\"*\"}]}"
o=$(as_key "$B_KEY" "$B_SECRET" awsx ecr create-repository --repository-name spoke/app)
expect_eq "$(jq -r .repository.repositoryArn <<<"$o")" "arn:aws:ecr:$REGION:$SPOKE:repository/spoke/app" "spoke repository ARN"
expect_eq "$(jq -r .repository.registryId <<<"$o")" "$SPOKE" "spoke repository registryId"
expect_eq "$(jq -r .repository.repositoryUri <<<"$o")" "$SPOKE.$REG/spoke/app" "spoke repositoryUri"
B_PW=$(login_passwords "$B_KEY" "$B_SECRET")
push_image spoke/app v1 "$B_PW" "$SPOKE.$REG"
pull_status spoke/app "$B_PW" "$SPOKE.$REG"
expect_status 200 "spoke pull from its own registry via Host"
pull_status spoke/app "$B_PW"
want_error 403 DENIED "the spoke user on the default host (the hub registry)"
[[ "$(cat "$BODY")" == *"$RARN/spoke/app"* ]] || fail "the default host is not the hub registry: $(cat "$BODY")"
pull_status spoke/app "$ADMIN_PW" "$SPOKE.$REG"
want_error 403 DENIED "the hub admin in the spoke registry"
ecr_batch <<'EOF'
AccessDeniedException describe_repositories {"registryId": "111111111111"}
AccessDeniedException describe_repositories {"registryId": "111111111111", "repositoryNames": ["spoke/app"]}
AccessDeniedException delete_repository {"registryId": "111111111111", "repositoryName": "spoke/app", "force": true}
EOF
expect_eq "$(ecr_repo_names)" "hub/base pol/allowed pol/locked pol/other pub/img" "the hub's repositories are unchanged"
ok "Host $SPOKE.$REG addresses the spoke registry; the hub admin has no access there"

# --- repository policy round trip and errors
POL="{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"ro\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"arn:aws:iam::$SPOKE:root\",\"$OTHER\"]},\"Action\":[\"ecr:BatchGetImage\"],\"Condition\":{\"StringEquals\":{\"aws:PrincipalAccount\":\"$SPOKE\"}}}]}"
ecr_batch <<'EOF'
RepositoryPolicyNotFoundException get_repository_policy {"repositoryName": "pol/other"}
RepositoryPolicyNotFoundException delete_repository_policy {"repositoryName": "pol/other"}
RepositoryNotFoundException get_repository_policy {"repositoryName": "pol/none"}
EOF
o=$(must awsx ecr set-repository-policy --repository-name pol/other --policy-text "$POL")
expect_eq "$(jq -r .repositoryName <<<"$o")" pol/other "set-repository-policy repositoryName"
expect_eq "$(jq -r .registryId <<<"$o")" "$ACCOUNT" "set-repository-policy registryId"
expect_eq "$(jq -c '.policyText | fromjson' <<<"$o")" "$(jq -c . <<<"$POL")" "set-repository-policy policyText"
g=$(must awsx ecr get-repository-policy --repository-name pol/other)
expect_eq "$(jq -c '.policyText | fromjson' <<<"$g")" "$(jq -c . <<<"$POL")" "get-repository-policy policyText"
o=$(must awsx ecr delete-repository-policy --repository-name pol/other)
expect_eq "$(jq -c '.policyText | fromjson' <<<"$o")" "$(jq -c . <<<"$POL")" "delete-repository-policy returns the policy"
expect_aws_error RepositoryNotFoundException awsx ecr set-repository-policy --repository-name pol/none --policy-text "$POL"
ok "Set/Get/DeleteRepositoryPolicy round trip; RepositoryPolicyNotFoundException; RepositoryNotFoundException"

# invalid documents
ecr_batch <<'EOF'
InvalidParameterException set_repository_policy {"repositoryName": "pol/other", "policyText": "not json"}
InvalidParameterException set_repository_policy {"repositoryName": "pol/other", "policyText": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Maybe\",\"Principal\":\"*\",\"Action\":\"ecr:BatchGetImage\"}]}"}
InvalidParameterException set_repository_policy {"repositoryName": "pol/other", "policyText": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ecr:BatchGetImage\"}]}"}
InvalidParameterException set_repository_policy {"repositoryName": "pol/other", "policyText": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\"}]}"}
InvalidParameterException set_repository_policy {"repositoryName": "pol/other", "policyText": "{\"Version\":\"2012-10-17\",\"Statement\":[]}"}
InvalidParameterException set_repository_policy {"repositoryName": "pol/other", "policyText": "{\"Version\":\"1999-01-01\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"ecr:BatchGetImage\"}]}"}
InvalidParameterException set_repository_policy {"repositoryName": "pol/other", "policyText": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"not-an-arn\"},\"Action\":\"ecr:BatchGetImage\"}]}"}
InvalidParameterException put_registry_policy {"policyText": "not json"}
InvalidParameterException put_registry_policy {"policyText": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ecr:ReplicateImage\"}]}"}
RepositoryPolicyNotFoundException get_repository_policy {"repositoryName": "pol/other"}
RegistryPolicyNotFoundException get_registry_policy
EOF
if "$BERTH_BIN" admin put-policy --account "$ACCOUNT" --name bad --document '{"Statement":[{"Effect":"Allow"}]}' \
    --data-dir "$DATA" >/dev/null 2>&1; then
    fail "berth admin put-policy accepted an invalid identity policy"
fi
ok "invalid policy documents -> InvalidParameterException, nothing stored; admin put-policy refuses them"

# --- DescribeRepositories by name is authorized per repository, like AWS (a policy on one
# repository ARN, or a repository policy, is enough). Last, so the sections above still run.
n=$(must dev ecr describe-repositories --repository-names pol/allowed --query 'repositories[0].repositoryName' --output text)
expect_eq "$n" pol/allowed "describe-repositories of the repository dev is allowed on (identity policy on its ARN)"
n=$(must dev ecr describe-repositories --repository-names pol/other --query 'repositories[0].repositoryName' --output text)
expect_eq "$n" pol/other "describe-repositories through the NotAction policy"
d=$(must sp ecr describe-repositories --registry-id "$ACCOUNT" --repository-names hub/base)
expect_eq "$(jq -r '.repositories[0].registryId' <<<"$d")" "$ACCOUNT" "spoke describe: registryId"
expect_eq "$(jq -r '.repositories[0].repositoryArn' <<<"$d")" "$RARN/hub/base" "spoke describe: ARN"
ok "describe-repositories --repository-names is authorized on each repository's ARN"

stop_berth
fsck_clean
ok "clean stop; fsck clean"
