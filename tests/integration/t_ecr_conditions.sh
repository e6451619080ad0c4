#!/usr/bin/env bash
# Policy conditions are evaluated on real requests, on both APIs: aws:SourceIp (IpAddress),
# aws:SecureTransport (Bool; Berth serves plain HTTP here), aws:username (StringLike).
. "$(dirname "$0")/lib_ecr.sh"
start_ecr_berth
must awsx ecr create-repository --repository-name cond/app >/dev/null
new_user "$ACCOUNT" alice
AK=$NEW_KEY AS=$NEW_SECRET

policy() { # policy NAME CONDITION-JSON: allow ecr:* under that condition only
    must "$BERTH_BIN" admin put-policy --account "$ACCOUNT" --name "$1" --data-dir "$DATA" --document \
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ecr:*\",\"Resource\":\"*\",\"Condition\":$2}]}" >/dev/null
}
attach() { must "$BERTH_BIN" admin attach-policy --account "$ACCOUNT" --user alice --name "$1" --data-dir "$DATA" >/dev/null; }

policy from-elsewhere '{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}'
attach from-elsewhere
expect_aws_error AccessDeniedException as_key "$AK" "$AS" awsx ecr describe-repositories
policy tls-only '{"Bool":{"aws:SecureTransport":"true"}}'
attach tls-only
expect_aws_error AccessDeniedException as_key "$AK" "$AS" awsx ecr describe-repositories
ok "IpAddress with another network and Bool SecureTransport=true do not allow a plain-HTTP loopback call"

policy from-loopback '{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","127.0.0.1/32"]},"StringLike":{"aws:username":"al*"}}'
attach from-loopback
out=$(must as_key "$AK" "$AS" awsx ecr describe-repositories --query 'repositories[].repositoryName' --output text)
expect_eq "$out" cond/app "allowed from 127.0.0.1 as al*"
pw=$(must as_key "$AK" "$AS" awsx ecr get-login-password)
req GET /v2/cond/app/tags/list -H "Authorization: $(basic_auth "$pw")"
expect_status 200 "the registry API evaluates the same condition"
ok "IpAddress 127.0.0.1/32 (one of a list) AND StringLike aws:username allow, on both APIs"

# an explicit Deny conditioned on the source address wins over the allow
must "$BERTH_BIN" admin put-policy --account "$ACCOUNT" --name no-loopback-push --data-dir "$DATA" --document \
    '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ecr:PutImage","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}]}' >/dev/null
attach no-loopback-push
req PUT /v2/cond/app/manifests/x -H "Authorization: $(basic_auth "$pw")" \
    -H "Content-Type: application/vnd.oci.image.index.v1+json" \
    --data-binary '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
want_error 403 DENIED "push denied by a conditioned Deny"
req GET /v2/cond/app/tags/list -H "Authorization: $(basic_auth "$pw")"
expect_status 200 "pull still allowed"
ok "a Deny conditioned on aws:SourceIp wins for its action only"
stop_berth
