#!/usr/bin/env bash
# A registry token from get-login-password stops working when it expires (--token-ttl; ECR's
# 12 hours by default): /v2/ answers 401 with the Basic challenge, and a fresh token works.
. "$(dirname "$0")/lib_ecr.sh"
start_ecr_berth --token-ttl 2

exp=$(must awsx ecr get-authorization-token --query 'authorizationData[0].expiresAt' --output text)
now=$(date +%s)
exp_s=$(date -d "$exp" +%s)
[ $((exp_s - now)) -le 3 ] && [ $((exp_s - now)) -ge 0 ] ||
    fail "expiresAt $exp is not ~2 s from now"
pw=$(must awsx ecr get-login-password)
req GET /v2/ -H "Authorization: $(basic_auth "$pw")"
expect_status 200 "fresh token"
sleep 3
req GET /v2/ -H "Authorization: $(basic_auth "$pw")"
expect_error 401 UNAUTHORIZED "expired token"
[[ "$(hdr WWW-Authenticate)" == Basic\ realm=* ]] || fail "no Basic challenge: $(hdr WWW-Authenticate)"
[[ "$(jq -r '.errors[0].message' "$BODY")" == *expired* ]] || fail "message does not say expired"
pw2=$(must awsx ecr get-login-password)
req GET /v2/ -H "Authorization: $(basic_auth "$pw2")"
expect_status 200 "a new token"
ok "registry tokens expire after --token-ttl and a new one works"

# The default lifetime is ECR's 12 hours.
stop_berth
start_ecr_berth
exp=$(must awsx ecr get-authorization-token --query 'authorizationData[0].expiresAt' --output text)
d=$(( $(date -d "$exp" +%s) - $(date +%s) ))
[ "$d" -gt $((12 * 3600 - 60)) ] && [ "$d" -le $((12 * 3600)) ] || fail "default token lifetime is $d s"
ok "tokens last 12 hours by default"
stop_berth
