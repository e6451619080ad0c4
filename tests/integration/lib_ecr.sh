# shellcheck shell=bash
# Helpers for the ECR tests (t_ecr_*.sh). Source this instead of lib.sh: it turns identity on
# and create-on-push off (the server defaults) before lib.sh would pick its OCI-test defaults,
# then adds an isolated AWS CLI v2 wrapper, SigV4-signed raw requests and skopeo login.
export BERTH_AUTH=true
export BERTH_AUTO_CREATE_REPOS=false
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/lib_api.sh"

# shellcheck disable=SC2034 # ACCOUNT and AWS_BIN are for the test files that source this
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

# The SigV4 client for raw requests: botocore signs, urllib sends. Arguments: URL HOST KEY
# SECRET SKEW_SECONDS SERVICE REGION OUTDIR; each stdin line is `TARGET BODY` (TARGET "-": no
# X-Amz-Target header; BODY the rest of the line, may be empty). Request N (from 1) leaves
# OUTDIR/N.status, N.headers, N.body. SKEW_SECONDS moves the signing clock (negative: the past).
cat >"$T/signed.py" <<'EOF_PY'
import datetime, os, sys, urllib.request, urllib.error
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
import botocore.auth as ba
url, host, key, secret, skew, service, region, outdir = sys.argv[1:9]
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
os.makedirs(outdir, exist_ok=True)
for n, line in enumerate(sys.stdin.read().split("\n")[:-1], 1):
    target, _, body = line.partition(" ")
    headers = {"Content-Type": "application/x-amz-json-1.1", "Host": host}
    if target != "-":
        headers["X-Amz-Target"] = target
    req = AWSRequest(method="POST", url=url + "/", data=body.encode(), headers=headers)
    SigV4Auth(Credentials(key, secret), service, region).add_auth(req)
    r = urllib.request.Request(url + "/", data=body.encode(), method="POST", headers=dict(req.headers.items()))
    try:
        resp = urllib.request.urlopen(r, timeout=20)
    except urllib.error.HTTPError as e:
        resp = e
    with open("%s/%d.headers" % (outdir, n), "w") as f:
        for k, v in resp.headers.items():
            f.write("%s: %s\r\n" % (k, v))
    with open("%s/%d.body" % (outdir, n), "wb") as f:
        f.write(resp.read())
    with open("%s/%d.status" % (outdir, n), "w") as f:
        f.write(str(resp.status))
EOF_PY

# signed_many [KEY SECRET [SKEW [SERVICE [HOST]]]] <LINES: sends each `TARGET BODY` line as a
# signed POST / (see signed.py above); then raw_result N selects the answer to request N.
signed_many() {
    rm -rf "$T/raw"
    "$PY" "$T/signed.py" "$URL" "${5:-$REG}" "${1:-$ADMIN_KEY}" "${2:-$ADMIN_SECRET}" "${3:-0}" \
        "${4:-ecr}" "$REGION" "$T/raw" 2>"$T/signed.err" || fail "signed request failed: $(tail -n 3 "$T/signed.err")"
}

# raw_result N: STATUS, $HDRS and $BODY of the Nth request of the last signed_many.
raw_result() {
    STATUS=$(cat "$T/raw/$1.status")
    cp "$T/raw/$1.headers" "$HDRS"
    cp "$T/raw/$1.body" "$BODY"
}

# signed TARGET BODY [KEY SECRET [SKEW [SERVICE [HOST]]]]: one signed POST /; sets STATUS,
# $HDRS and $BODY like req. (BODY must be one line.)
signed() {
    local target=${1:--} body=$2
    shift 2
    printf '%s %s\n' "$target" "$body" | signed_many "$@"
    raw_result 1
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

# ecr_batch [KEY SECRET]: many calls in one boto3 process (the CLI costs about a second per
# call). Each stdin line is `EXPECT OPERATION JSON`: EXPECT is ok or an error code, OPERATION a
# boto3 method of the ecr client (sts.NAME for STS), JSON its parameters (default {}). Stops at
# the first mismatch and fails naming the line.
cat >"$T/ecr_batch.py" <<'EOF_PY'
import json, sys
import boto3, botocore.config, botocore.exceptions
url, key, secret, region = sys.argv[1:5]
cfg = botocore.config.Config(retries={"max_attempts": 1})
kw = dict(endpoint_url=url, region_name=region, aws_access_key_id=key,
          aws_secret_access_key=secret, config=cfg)
clients = {"ecr": boto3.client("ecr", **kw), "sts": boto3.client("sts", **kw)}
for n, line in enumerate(sys.stdin, 1):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    parts = line.split(None, 2)
    want, op = parts[0], parts[1]
    params = json.loads(parts[2]) if len(parts) > 2 else {}
    svc, _, meth = op.rpartition(".")
    try:
        out = getattr(clients[svc or "ecr"], meth)(**params)
        got = "ok"
    except botocore.exceptions.ClientError as e:
        got, out = e.response["Error"]["Code"], e.response["Error"].get("Message")
    except botocore.exceptions.ParamValidationError as e:
        got, out = "ParamValidationError", str(e)
    if got != want:
        sys.exit("line %d: %s -> %s, want %s: %s" % (n, line, got, want, out))
EOF_PY
ecr_batch() {
    "$PY" "$T/ecr_batch.py" "$URL" "${1:-$ADMIN_KEY}" "${2:-$ADMIN_SECRET}" "$REGION" \
        >"$T/batch.out" 2>&1 || fail "ecr_batch: $(tail -n 3 "$T/batch.out")"
}

# login_passwords KEY SECRET [KEY SECRET...]: the registry password of each key (what
# get-login-password prints), one a line, from GetAuthorizationToken in one boto3 process.
login_passwords() {
    "$PY" - "$URL" "$REGION" "$@" <<'EOF_PY' || fail "login_passwords failed"
import base64, sys, boto3
url, region, args = sys.argv[1], sys.argv[2], sys.argv[3:]
for k, s in zip(args[::2], args[1::2]):
    ecr = boto3.client("ecr", endpoint_url=url, region_name=region, aws_access_key_id=k,
                       aws_secret_access_key=s)
    t = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, _, pw = base64.b64decode(t).decode().partition(":")
    assert user == "AWS", user
    print(pw)
EOF_PY
}
