#!/usr/bin/env bash
# Hostile and malformed ECR API input, correctly signed (botocore SigV4 over arbitrary bodies
# and targets): each gets its exact error code as HTTP 400 with a JSON-1.1 error body, nothing
# is created or changed, and the server keeps serving.
. "$(dirname "$0")/lib_ecr.sh"
start_ecr_berth

P=AmazonEC2ContainerRegistry_V20150921
o=$(must awsx ecr create-repository --repository-name ok/base --image-tag-mutability IMMUTABLE)
BASE=$(jq -c '.repository' <<<"$o")

long=$(printf 'a%.0s' $(seq 1 257))
# `CODE TARGET BODY` lines; CODE is the expected __type
cases=$(
    cat <<EOF
SerializationException $P.CreateRepository {"repositoryName": "bad/json"
SerializationException $P.CreateRepository ["repositoryName", "bad/array"]
SerializationException $P.CreateRepository "bad/string"
SerializationException $P.CreateRepository 42
SerializationException $P.CreateRepository {"repositoryName": "bad/dup", "repositoryName": "bad/dup2"}
SerializationException $P.CreateRepository {"repositoryName": "bad/trailing"} x
UnknownOperationException $P.FlyToTheMoon {}
UnknownOperationException $P. {}
UnknownOperationException OtherService_20200101.CreateRepository {"repositoryName": "bad/prefix"}
UnknownOperationException ${P}.createrepository {"repositoryName": "bad/case"}
InvalidParameterException $P.CreateRepository {}
InvalidParameterException $P.CreateRepository {"repositoryName": null}
InvalidParameterException $P.CreateRepository {"repositoryName": ""}
InvalidParameterException $P.CreateRepository {"repositoryName": "../x"}
InvalidParameterException $P.CreateRepository {"repositoryName": "UPPER"}
InvalidParameterException $P.CreateRepository {"repositoryName": "a//b"}
InvalidParameterException $P.CreateRepository {"repositoryName": "-lead"}
InvalidParameterException $P.CreateRepository {"repositoryName": "trail/"}
InvalidParameterException $P.CreateRepository {"repositoryName": "sp ace"}
InvalidParameterException $P.CreateRepository {"repositoryName": "$long"}
InvalidParameterException $P.CreateRepository {"repositoryName": "bad/mut", "imageTagMutability": "SOMETIMES"}
InvalidParameterException $P.CreateRepository {"repositoryName": "bad/mutlower", "imageTagMutability": "immutable"}
InvalidParameterException $P.CreateRepository {"repositoryName": "bad/filters", "imageTagMutability": "MUTABLE", "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "latest"}]}
InvalidParameterException $P.CreateRepository {"repositoryName": "bad/nofilters", "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION"}
InvalidParameterException $P.CreateRepository {"repositoryName": "bad/filtertype", "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION", "imageTagMutabilityExclusionFilters": [{"filterType": "REGEX", "filter": "x"}]}
InvalidParameterException $P.CreateRepository {"repositoryName": "bad/filterchars", "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION", "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "a b"}]}
InvalidParameterException $P.CreateRepository {"repositoryName": "bad/scan", "imageScanningConfiguration": {"scanOnPush": "yes"}}
InvalidParameterException $P.CreateRepository {"repositoryName": "bad/enc", "encryptionConfiguration": {"encryptionType": "ROT13"}}
InvalidParameterException $P.CreateRepository {"repositoryName": "bad/enckey", "encryptionConfiguration": {"encryptionType": "AES256", "kmsKey": "arn:aws:kms:us-east-1:000000000000:key/x"}}
InvalidTagParameterException $P.CreateRepository {"repositoryName": "bad/tags", "tags": [{"Key": "", "Value": "x"}]}
InvalidParameterException $P.CreateRepository {"repositoryName": "bad/tagtype", "tags": "team=ml"}
InvalidParameterException $P.CreateRepository {"repositoryName": "bad/registry", "registryId": "12345"}
InvalidParameterException $P.DescribeRepositories {"maxResults": 0}
InvalidParameterException $P.DescribeRepositories {"maxResults": 1001}
InvalidParameterException $P.DescribeRepositories {"repositoryNames": []}
InvalidParameterException $P.DescribeRepositories {"repositoryNames": "ok/base"}
InvalidParameterException $P.DescribeRepositories {"repositoryNames": ["ok/base"], "maxResults": 5}
InvalidParameterException $P.PutImageTagMutability {"repositoryName": "ok/base", "imageTagMutability": "SOMETIMES"}
InvalidParameterException $P.PutImageTagMutability {"repositoryName": "ok/base", "imageTagMutability": "MUTABLE", "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "v*"}]}
InvalidParameterException $P.PutImageTagMutability {"repositoryName": "ok/base"}
InvalidParameterException $P.PutImageScanningConfiguration {"repositoryName": "ok/base"}
InvalidParameterException $P.TagResource {"resourceArn": "arn:aws:ecr:us-east-1:000000000000:repository/ok/base"}
InvalidParameterException $P.TagResource {"resourceArn": "arn:aws:s3:::bucket", "tags": [{"Key": "a", "Value": "b"}]}
InvalidParameterException $P.SetRepositoryPolicy {"repositoryName": "ok/base", "policyText": "{"}
InvalidParameterException $P.PutLifecyclePolicy {"repositoryName": "ok/base", "lifecyclePolicyText": "{\"rules\":[]}"}
InvalidParameterException $P.PutLifecyclePolicy {"repositoryName": "ok/base"}
InvalidParameterException $P.GetLifecyclePolicyPreview {"repositoryName": "ok/base", "maxResults": 101}
UnsupportedOperationException $P.PutRegistryScanningConfiguration {"scanType": "BASIC"}
UnsupportedOperationException $P.StartImageScan {"repositoryName": "ok/base", "imageId": {"imageTag": "v1"}}
UnsupportedOperationException $P.CreatePullThroughCacheRule {"ecrRepositoryPrefix": "hub", "upstreamRegistryUrl": "registry-1.docker.io"}
UnsupportedOperationException $P.PutReplicationConfiguration {"replicationConfiguration": {"rules": []}}
EOF
)
cut -d' ' -f2- <<<"$cases" | signed_many
i=0
while IFS= read -r line; do
    i=$((i + 1))
    code=${line%% *}
    raw_result "$i"
    want_ecr_error "$code" "case $i: ${line:0:140}"
    keys=$(jq -c 'keys' "$BODY")
    expect_eq "$keys" '["__type","message"]' "case $i: error body members"
    case "$code" in
    UnsupportedOperationException)
        op=${line#* "$P".}
        op=${op%% *}
        [[ "$(jq -r .message "$BODY")" == *"$op"* ]] || fail "case $i: the message does not name $op: $(cat "$BODY")"
        ;;
    esac
done <<<"$cases"
ok "$i malformed or invalid signed requests: exact codes, HTTP 400, application/x-amz-json-1.1, {__type, message}"

# an unsigned request and a bad signature answer in the same format
req POST / -H 'Content-Type: application/x-amz-json-1.1' -H "X-Amz-Target: $P.CreateRepository" \
    -d '{"repositoryName":"bad/unsigned"}'
want_ecr_error MissingAuthenticationTokenException "unsigned CreateRepository"
signed "$P.CreateRepository" '{"repositoryName":"bad/badsig"}' "$ADMIN_KEY" "wrong-secret"
want_ecr_error InvalidSignatureException "CreateRepository with a bad signature"
signed "$P.CreateRepository" '{"repositoryName":"bad/nokey"}' AKIANOSUCHKEY0000000 "$ADMIN_SECRET"
want_ecr_error UnrecognizedClientException "CreateRepository with an unknown key"
ok "authentication failures use the same error format"

# the body is checked against the signature: same signature, other body
signed "$P.DescribeRepositories" '{}'
expect_status 200 "a signed DescribeRepositories"
"$PY" - "$URL" "$REG" "$ADMIN_KEY" "$ADMIN_SECRET" "$T/tamper" <<'EOF' || fail "tamper request failed"
import sys, urllib.request, urllib.error
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, host, k, s, out = sys.argv[1:]
h = {"Content-Type": "application/x-amz-json-1.1", "Host": host,
     "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.CreateRepository"}
r = AWSRequest(method="POST", url=url + "/", data=b'{"repositoryName":"bad/signed"}', headers=h)
SigV4Auth(Credentials(k, s), "ecr", "us-east-1").add_auth(r)
req = urllib.request.Request(url + "/", data=b'{"repositoryName":"bad/tampered"}', method="POST",
                             headers=dict(r.headers.items()))
try:
    resp = urllib.request.urlopen(req, timeout=10)
except urllib.error.HTTPError as e:
    resp = e
open(out, "w").write("%d %s" % (resp.status, resp.read().decode()))
EOF
t=$(cat "$T/tamper")
[[ "$t" == "400 "*InvalidSignatureException* ]] || fail "a body swapped under a signature: $t"
ok "a body swapped under a valid signature -> InvalidSignatureException"

# nothing was created or changed, and the server still serves
expect_eq "$(ecr_repo_names)" "ok/base" "repositories after the bad input"
now=$(awsx ecr describe-repositories --repository-names ok/base | jq -c '.repositories[0]')
expect_eq "$now" "$BASE" "ok/base after the bad input"
tags=$(awsx ecr list-tags-for-resource --resource-arn "arn:aws:ecr:$REGION:$ACCOUNT:repository/ok/base" | jq -c .tags)
expect_eq "$tags" "[]" "ok/base tags after the bad input"
pw=$(must awsx ecr get-login-password)
req GET /v2/ -u "AWS:$pw"
expect_status 200 "GET /v2/ at the end"
stop_berth
fsck_clean
ok "nothing created or changed; server still serves; clean stop; fsck clean"
