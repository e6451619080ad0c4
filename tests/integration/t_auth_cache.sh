#!/usr/bin/env bash
# The OCI gate caches allowed decisions per token. Every change an answer depends on must show
# on the very next request after it was cached, whoever makes the change: the ECR API in the
# server (repository policies, repository deletion) or `berth admin` in another process
# (identity policies, key deactivation). Each check makes the request several times first, so
# the answer is cached when the change happens. Token expiry also ends a cached answer.
. "$(dirname "$0")/lib_ecr.sh"
start_ecr_berth

ADMIN_PW=$(must awsx ecr get-login-password)
gen_text "$T/config" '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
gen_bytes "$T/layer" 2048 11
mk_image "$T/manifest" "$MT_OCI_MANIFEST" "$(desc "$MT_OCI_CONFIG" "$T/config")" "$(desc "$MT_OCI_LAYER" "$T/layer")"
push_image() { # push_image REPO: the image as v1, with the admin's token
    local f
    for f in "$T/config" "$T/layer"; do
        req POST "/v2/$1/blobs/uploads/?digest=$(sha256_of "$f")" -u "AWS:$ADMIN_PW" \
            --data-binary @"$f" -H 'Content-Type: application/octet-stream'
        expect_status 201 "push a blob to $1"
    done
    req PUT "/v2/$1/manifests/v1" -u "AWS:$ADMIN_PW" -H "Content-Type: $MT_OCI_MANIFEST" \
        --data-binary @"$T/manifest"
    expect_status 201 "push the manifest to $1"
}
for r in c/app c/pub; do
    must awsx ecr create-repository --repository-name "$r" >/dev/null
    push_image "$r"
done

# pulls PASSWORD|- REPO STATUS [CODE] WHAT: the manifest GET three times, answered alike each
# time (the first answer is cached when allowed).
pulls() {
    local pw=$1 repo=$2 want=$3 code= what a=() i
    if [ $# = 5 ]; then code=$4 what=$5; else what=$4; fi
    [ "$pw" = - ] || a=(-u "AWS:$pw")
    for i in 1 2 3; do
        req GET "/v2/$repo/manifests/v1" "${a[@]}" -H "Accept: $MT_OCI_MANIFEST"
        if [ -n "$code" ]; then
            want_error "$want" "$code" "$what (#$i)"
        else
            expect_status "$want" "$what (#$i)"
        fi
    done
}

# --- a user's identity policy, replaced by `berth admin put-policy` beside the server
new_user "$ACCOUNT" puller
PKEY=$NEW_KEY PSECRET=$NEW_SECRET
admin_policy "$ACCOUNT" puller pull "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"ecr:GetAuthorizationToken\",\"ecr:BatchGetImage\"],\"Resource\":\"*\"}]}"
PPW=$(as_key "$PKEY" "$PSECRET" awsx ecr get-login-password)
pulls "$PPW" c/app 200 "puller under its Allow"
must "$BERTH_BIN" admin put-policy --account "$ACCOUNT" --name pull --data-dir "$DATA" --document \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ecr:GetAuthorizationToken\",\"Resource\":\"*\"}]}" >/dev/null
pulls "$PPW" c/app 403 DENIED "puller after its policy lost BatchGetImage"
must "$BERTH_BIN" admin put-policy --account "$ACCOUNT" --name pull --data-dir "$DATA" --document \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ecr:BatchGetImage\",\"Resource\":\"*\"}]}" >/dev/null
pulls "$PPW" c/app 200 "puller after BatchGetImage came back"
ok "an identity policy changed by berth admin applies to the next request"

# --- a repository policy set and removed through the ECR API
must awsx ecr set-repository-policy --repository-name c/app --policy-text \
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":{\"AWS\":\"arn:aws:iam::$ACCOUNT:user/puller\"},\"Action\":\"ecr:BatchGetImage\"}]}" >/dev/null
pulls "$PPW" c/app 403 DENIED "puller against a Deny repository policy"
pulls "$ADMIN_PW" c/app 200 "the admin is not named by the Deny"
must awsx ecr delete-repository-policy --repository-name c/app >/dev/null
pulls "$PPW" c/app 200 "puller after the repository policy was deleted"
ok "repository policies set and deleted through the API apply to the next request"

# --- key deactivation in another process revokes the cached token at once
must "$BERTH_BIN" admin deactivate-access-key --key "$PKEY" --data-dir "$DATA" >/dev/null
pulls "$PPW" c/app 401 UNAUTHORIZED "puller's token after its key was deactivated"
must "$BERTH_BIN" admin activate-access-key --key "$PKEY" --data-dir "$DATA" >/dev/null
pulls "$PPW" c/app 200 "puller's token after re-activation"
ok "deactivating a key ends its cached token's access on the next request"

# --- anonymous pulls of a public repository end when the repository is deleted and re-made
must awsx ecr set-repository-policy --repository-name c/pub --policy-text \
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}' >/dev/null
pulls - c/pub 200 "anonymous pull of the public repository"
must awsx ecr delete-repository --repository-name c/pub --force >/dev/null
must awsx ecr create-repository --repository-name c/pub >/dev/null
push_image c/pub
pulls - c/pub 401 UNAUTHORIZED "anonymous pull of the re-created repository (no policy)"
ok "a re-created repository does not inherit its predecessor's cached public access"

# --- a cached answer ends with its token
stop_berth
start_ecr_berth --token-ttl 3
pw=$(must awsx ecr get-login-password)
pulls "$pw" c/app 200 "a fresh token"
sleep 4
pulls "$pw" c/app 401 UNAUTHORIZED "the same token after it expired"
ok "a cached answer does not outlive its token"

stop_berth
no_sanitizer_reports
fsck_clean
ok "clean stop; fsck clean"
