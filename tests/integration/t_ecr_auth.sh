#!/usr/bin/env bash
# Authentication on both planes: SigV4 failures on the ECR API (wrong secret, unknown key, no
# signature, expired signature), registry tokens on /v2/ (challenge, wrong/forged password, a
# working token), key deactivation revoking API access and issued tokens, re-activation, no
# secret or token in the log, and the generated admin key shown once at first start.
. "$(dirname "$0")/lib_ecr.sh"
start_ecr_berth --log-level debug # the secret check below covers the most verbose log

must awsx ecr create-repository --repository-name auth/app >/dev/null

# SigV4 failures
expect_aws_error InvalidSignatureException as_key "$ADMIN_KEY" "${ADMIN_SECRET}x" awsx ecr describe-repositories
expect_aws_error UnrecognizedClientException as_key AKIANOSUCHKEY0000000 "$ADMIN_SECRET" awsx ecr describe-repositories
# STS names it as AWS STS does
expect_aws_error SignatureDoesNotMatch as_key "$ADMIN_KEY" "${ADMIN_SECRET}x" awsx sts get-caller-identity
ok "wrong secret -> InvalidSignatureException (STS: SignatureDoesNotMatch); unknown key -> UnrecognizedClientException"

req POST / -H 'Content-Type: application/x-amz-json-1.1' \
    -H 'X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.DescribeRepositories' -d '{}'
[ "$(jq -r '.__type' "$BODY" 2>/dev/null)" = MissingAuthenticationTokenException ] ||
    fail "unsigned POST /: $STATUS $(head -c 300 "$BODY")"
unsigned_status=$STATUS
[ "$unsigned_status" = 400 ] || [ "$unsigned_status" = 403 ] ||
    fail "unsigned POST /: status $unsigned_status, want 400 or 403"
want_hdr Content-Type application/x-amz-json-1.1 "unsigned POST /"
ok "unsigned POST / -> MissingAuthenticationTokenException ($unsigned_status)"

# a signature 20 minutes old (the window is 15 minutes)
signed AmazonEC2ContainerRegistry_V20150921.DescribeRepositories '{}' "$ADMIN_KEY" "$ADMIN_SECRET" -1200
[ "$(jq -r '.__type' "$BODY")" = InvalidSignatureException ] ||
    fail "signature 20 minutes old: $STATUS $(head -c 300 "$BODY")"
msg=$(jq -r '.message' "$BODY")
[[ "${msg,,}" == *expired* ]] || fail "old signature: message does not mention expiry: $msg"
signed AmazonEC2ContainerRegistry_V20150921.DescribeRepositories '{}' "$ADMIN_KEY" "$ADMIN_SECRET" 1200
[ "$(jq -r '.__type' "$BODY")" = InvalidSignatureException ] ||
    fail "signature 20 minutes in the future: $STATUS $(head -c 300 "$BODY")"
signed AmazonEC2ContainerRegistry_V20150921.DescribeRepositories '{}' "$ADMIN_KEY" "$ADMIN_SECRET" -240
expect_status 200 "signature 4 minutes old (inside the window)"
ok "signature 20 min old or ahead -> InvalidSignatureException ($msg); 4 min old accepted"

# /v2/ challenge
req GET /v2/
expect_status 401 "GET /v2/ without credentials"
www=$(hget WWW-Authenticate)
[[ "$www" == 'Basic realm="'*'"'* ]] || fail "WWW-Authenticate is '$www', want Basic realm=\"...\""
expect_eq "$(body_code)" UNAUTHORIZED "GET /v2/ without credentials: error code"
req GET /v2/auth/app/tags/list
want_error 401 UNAUTHORIZED "tags/list without credentials"
req GET /v2/ -H "Authorization: $(basic_auth wrong-password)"
want_error 401 UNAUTHORIZED "wrong Basic password"
req GET /v2/ -u "AWS:$ADMIN_SECRET"
want_error 401 UNAUTHORIZED "the secret key as a Basic password"
req GET /v2/ -H "Authorization: Bearer abc"
want_error 401 UNAUTHORIZED "a Bearer token"
ok "/v2/: 401 with WWW-Authenticate: $www; wrong passwords 401"

# a real token
pw=$(must awsx ecr get-login-password)
[[ "$pw" =~ ^[A-Za-z0-9._-]{20,}$ ]] || fail "get-login-password printed '$pw'"
req GET /v2/ -H "Authorization: $(basic_auth "$pw")"
expect_status 200 "GET /v2/ with the token"
req GET /v2/auth/app/tags/list -u "AWS:$pw"
expect_status 200 "tags/list with the token (curl -u)"
req GET /v2/ -u "someone:$pw"
want_error 401 UNAUTHORIZED "the token with a user other than AWS"
tok=$(awsx ecr get-authorization-token --query 'authorizationData[0].authorizationToken' --output text)
dec=$(base64 -d <<<"$tok")
[[ "$dec" == AWS:* ]] || fail "authorizationToken does not decode to AWS:<password>: $dec"
req GET /v2/ -H "Authorization: Basic $tok"
expect_status 200 "authorizationToken as the Basic credentials"
# forged: one hex character of the MAC changed; the expiry moved
last=${pw: -1}
if [ "$last" = 0 ]; then sub=1; else sub=0; fi
req GET /v2/ -H "Authorization: $(basic_auth "${pw%?}$sub")"
want_error 401 UNAUTHORIZED "forged token (last character changed)"
IFS=. read -r tp tk te tm <<<"$pw"
req GET /v2/ -H "Authorization: $(basic_auth "$tp.$tk.$((te + 86400)).$tm")"
want_error 401 UNAUTHORIZED "token with a later expiry"
req GET /v2/ -H "Authorization: $(basic_auth "$tp.AKIANOSUCHKEY0000000.$te.$tm")"
want_error 401 UNAUTHORIZED "token moved to another key"
ok "get-login-password token works as Basic AWS:<pw>; forged tokens 401"

# a non-admin user: revocation by deactivating its key
new_user "$ACCOUNT" ci
CI_KEY=$NEW_KEY CI_SECRET=$NEW_SECRET
admin_policy "$ACCOUNT" ci ci-all '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}'
uarn=$(as_key "$CI_KEY" "$CI_SECRET" awsx sts get-caller-identity --query Arn --output text)
expect_eq "$uarn" "arn:aws:iam::$ACCOUNT:user/ci" "the user's ARN"
cipw=$(as_key "$CI_KEY" "$CI_SECRET" awsx ecr get-login-password)
req GET /v2/auth/app/tags/list -u "AWS:$cipw"
expect_status 200 "user token before deactivation"
must "$BERTH_BIN" admin deactivate-access-key --key "$CI_KEY" --data-dir "$DATA" >/dev/null
expect_aws_error UnrecognizedClientException as_key "$CI_KEY" "$CI_SECRET" awsx ecr describe-repositories
req GET /v2/auth/app/tags/list -u "AWS:$cipw"
want_error 401 UNAUTHORIZED "user token after deactivation"
req GET /v2/ -u "AWS:$pw"
expect_status 200 "the admin's token is unaffected"
must "$BERTH_BIN" admin activate-access-key --key "$CI_KEY" --data-dir "$DATA" >/dev/null
n=$(as_key "$CI_KEY" "$CI_SECRET" awsx ecr describe-repositories --query 'length(repositories)' --output text)
expect_eq "$n" 1 "the user's ECR call after re-activation"
req GET /v2/auth/app/tags/list -u "AWS:$cipw"
expect_status 200 "the old user token after re-activation"
ok "deactivate-access-key stops the key's API calls and its tokens; activate restores both"

# nothing secret in the log
for s in "$ADMIN_SECRET" "$CI_SECRET" "$pw" "$cipw" "$tm" "$tok" "${ADMIN_SECRET}x"; do
    n=$(cat "$T"/berth*.log | grep -cF -- "$s" || true)
    [ "$n" = 0 ] || fail "the server log contains a secret or token (${s:0:6}...): $n lines"
done
n=$(cat "$T"/berth*.log | wc -l)
((n > 3)) || fail "the server log is suspiciously short ($n lines): is request logging on?"
ok "the server log holds no secret key, token or Basic credentials"
stop_berth

# no bootstrap key in the environment: a generated admin key, shown once on stdout
DATA=$T/data-generated
start_berth
key=$(sed -n 's/.*aws_access_key_id \([^[:space:]]*\).*/\1/p' "$T/berth.log" | head -n 1)
sec=$(sed -n 's/.*aws_secret_access_key \([^[:space:]]*\).*/\1/p' "$T/berth.log" | head -n 1)
[ -n "$key" ] && [ -n "$sec" ] || fail "first start printed no admin key: $(head -c 600 "$T/berth.log")"
a=$(as_key "$key" "$sec" awsx sts get-caller-identity --query Account --output text)
expect_eq "$a" "$ACCOUNT" "the generated key works"
stop_berth
start_berth
n=$(grep -cF -- "$sec" "$T/berth.log" || true)
expect_eq "$n" 0 "the generated secret printed again on the second start"
a=$(as_key "$key" "$sec" awsx sts get-caller-identity --query Account --output text)
expect_eq "$a" "$ACCOUNT" "the generated key after a restart"
stop_berth
ok "without BERTH_ADMIN_*: a generated admin key printed once, valid across restarts"
