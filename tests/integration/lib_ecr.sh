# Helpers for the ECR tests (t_ecr_*.sh). Source this instead of lib.sh: it turns identity on
# and create-on-push off (the server defaults) before lib.sh would pick its OCI-test defaults,
# then adds an isolated AWS CLI v2 wrapper, SigV4-signed raw requests and skopeo login.
export BERTH_AUTH=true
export BERTH_AUTO_CREATE_REPOS=false
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib_api.sh"

ACCOUNT=000000000000
REGION=us-east-1
ADMIN_KEY=AKIABERTHTESTADMIN01
ADMIN_SECRET=berthTestAdminSecret/0123456789abcdefghij
AWS_BIN=/usr/bin/aws # the AWS CLI v2 (the `aws` on PATH may be v1)

# Nothing from the surrounding environment or ~/.aws reaches a client.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_CA_BUNDLE AWS_ROLE_ARN \
    AWS_WEB_IDENTITY_TOKEN_FILE AWS_ENDPOINT_URL AWS_REGION
export AWS_CONFIG_FILE=$T/aws-config AWS_SHARED_CREDENTIALS_FILE=$T/aws-credentials
: >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"
export AWS_DEFAULT_REGION=$REGION AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
export AWS_MAX_ATTEMPTS=1 AWS_RETRY_MODE=standard
export AWS_ACCESS_KEY_ID=$ADMIN_KEY AWS_SECRET_ACCESS_KEY=$ADMIN_SECRET

# start_ecr_berth [serve options...]: a server with auth on, create-on-push off and the known
# admin key bootstrapped for account 000000000000.
start_ecr_berth() {
    BERTH_ADMIN_ACCESS_KEY_ID=$ADMIN_KEY BERTH_ADMIN_SECRET_ACCESS_KEY=$ADMIN_SECRET start_berth "$@"
}

# awsx ARGS...: the AWS CLI v2 against this server, with the credentials currently exported.
awsx() { "$AWS_BIN" --endpoint-url "$URL" "$@"; }

# as_key KEY SECRET CMD...: CMD with other credentials (in a subshell).
as_key() {
    (
        export AWS_ACCESS_KEY_ID=$1 AWS_SECRET_ACCESS_KEY=$2
        shift 2
        "$@"
    )
}

# expect_aws_error CODE CMD...: CMD (usually awsx ...) exits 254 with
# "An error occurred (CODE) when calling ...". Sets AWS_ERR to its stderr.
AWS_ERR=
expect_aws_error() {
    local code=$1 rc=0
    shift
    "$@" >"$T/aws.out" 2>"$T/aws.err" || rc=$?
    AWS_ERR=$(cat "$T/aws.err")
    [ "$rc" = 254 ] || fail "$*: exit status $rc, want 254 ($code); stderr: $AWS_ERR; stdout: $(head -c 300 "$T/aws.out")"
    [[ "$AWS_ERR" == *"An error occurred ($code) when calling"* ]] ||
        fail "$*: want error $code; stderr: $AWS_ERR"
}

# must CMD...: CMD succeeds; prints its stdout (stderr shown on failure).
must() {
    local rc=0
    "$@" 2>"$T/must.err" || rc=$?
    [ "$rc" = 0 ] || fail "$* exited $rc: $(cat "$T/must.err")"
}

# new_user ACCOUNT NAME: creates the user (and the account if needed) with an access key;
# sets NEW_KEY and NEW_SECRET.
new_user() {
    "$BERTH_BIN" admin create-account "$1" --data-dir "$DATA" >/dev/null 2>&1 || true
    must "$BERTH_BIN" admin create-user --account "$1" --user "$2" --data-dir "$DATA" >/dev/null
    local out
    out=$(must "$BERTH_BIN" admin create-access-key --account "$1" --user "$2" --data-dir "$DATA")
    NEW_KEY=$(sed -n 's/^AccessKeyId[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' <<<"$out")
    NEW_SECRET=$(sed -n 's/^SecretAccessKey[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' <<<"$out")
    [ -n "$NEW_KEY" ] && [ -n "$NEW_SECRET" ] || fail "create-access-key printed no key: $out"
}

# admin_policy ACCOUNT USER NAME JSON: stores an identity policy and attaches it to USER.
admin_policy() {
    must "$BERTH_BIN" admin put-policy --account "$1" --name "$3" --document "$4" --data-dir "$DATA" >/dev/null
    must "$BERTH_BIN" admin attach-policy --account "$1" --user "$2" --name "$3" --data-dir "$DATA" >/dev/null
}

# login_skopeo [AUTHFILE]: get-login-password (current credentials) | skopeo login.
login_skopeo() {
    local af=${1:-$T/auth.json} pw
    pw=$(must awsx ecr get-login-password)
    printf '%s\n' "$pw" | skopeo login --tls-verify=false --authfile "$af" --username AWS \
        --password-stdin "$REG" >/dev/null 2>"$T/skopeo.err" ||
        fail "skopeo login failed: $(cat "$T/skopeo.err")"
}

# basic_auth PASSWORD: the Authorization header value for user AWS.
basic_auth() { printf 'Basic %s' "$(printf 'AWS:%s' "$1" | base64 -w0)"; }

# signed TARGET BODY [KEY SECRET [SKEW_SECONDS [SERVICE [HOST]]]]: POST / with a SigV4
# signature computed by botocore, any body and X-Amz-Target (empty TARGET: no header). Sets
# STATUS, $HDRS, $BODY like req. SKEW_SECONDS moves the signing clock (negative = the past).
signed() {
    local target=$1 body=$2 key=${3:-$ADMIN_KEY} secret=${4:-$ADMIN_SECRET} skew=${5:-0}
    local service=${6:-ecr} host=${7:-$REG}
    STATUS=$("$PY" - "$URL" "$host" "$target" "$body" "$key" "$secret" "$skew" "$service" \
        "$HDRS" "$BODY" "$REGION" <<'EOF'
import datetime, sys, urllib.request, urllib.error
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
import botocore.auth as ba
url, host, target, body, key, secret, skew, service, hdrs, out, region = sys.argv[1:]
skew = int(skew)
if skew:
    real = datetime.datetime
    class Shifted(real):
        @classmethod
        def utcnow(cls):
            return real.utcnow() + datetime.timedelta(seconds=skew)
        @classmethod
        def now(cls, tz=None):
            return real.now(tz) + datetime.timedelta(seconds=skew)
    ba.datetime.datetime = Shifted
headers = {"Content-Type": "application/x-amz-json-1.1", "Host": host}
if target:
    headers["X-Amz-Target"] = target
req = AWSRequest(method="POST", url=url + "/", data=body.encode(), headers=headers)
SigV4Auth(Credentials(key, secret), service, region).add_auth(req)
r = urllib.request.Request(url + "/", data=body.encode(), method="POST",
                           headers={k: v for k, v in req.headers.items()})
try:
    resp = urllib.request.urlopen(r, timeout=20)
except urllib.error.HTTPError as e:
    resp = e
with open(hdrs, "w") as f:
    for k, v in resp.headers.items():
        f.write("%s: %s\r\n" % (k, v))
with open(out, "wb") as f:
    f.write(resp.read())
print(resp.status)
EOF
    ) || STATUS=000
}

# want_ecr_error CODE [what]: the last response is ECR's JSON error: HTTP 400 (unless
# WANT_STATUS says otherwise), Content-Type application/x-amz-json-1.1, a body of exactly
# {"__type": CODE, "message": non-empty string}.
want_ecr_error() {
    local what=${2:-request} st=${WANT_STATUS:-400}
    [ "$STATUS" = "$st" ] || fail "$what: status $STATUS, want $st; body: $(head -c 400 "$BODY")"
    want_hdr Content-Type application/x-amz-json-1.1 "$what"
    jq -e 'type == "object"' "$BODY" >/dev/null 2>&1 || fail "$what: body is not a JSON object: $(head -c 400 "$BODY")"
    local ty msg
    ty=$(jq -r '.__type // ""' "$BODY")
    msg=$(jq -r '.message // .Message // ""' "$BODY")
    ty=${ty##*#} # "com.amazonaws...#Code" is also valid JSON-1.1
    [ "$ty" = "$1" ] || fail "$what: __type '$ty', want $1; body: $(head -c 400 "$BODY")"
    [ -n "$msg" ] || fail "$what: no message in $(head -c 400 "$BODY")"
}

# ecr_repo_names: all repository names of the admin's registry, sorted, space separated.
ecr_repo_names() {
    awsx ecr describe-repositories --query 'repositories[].repositoryName' --output text |
        tr '\t' '\n' | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'
}
