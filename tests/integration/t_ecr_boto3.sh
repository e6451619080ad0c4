#!/usr/bin/env bash
# The core ECR flow through boto3 (ecr_boto3.py): create/describe with the paginator,
# get_authorization_token, tags, tag mutability exclusion filters, repository policy,
# delete_repository(force=True), STS, and the ClientError codes of the common failures.
. "$(dirname "$0")/lib_ecr.sh"
start_ecr_berth
new_user "$ACCOUNT" ci
"$PY" "$HERE/ecr_boto3.py" "$URL" "$ADMIN_KEY" "$ADMIN_SECRET" "$NEW_KEY" "$NEW_SECRET" ||
    fail "ecr_boto3.py failed"
req GET /v2/
want_error 401 UNAUTHORIZED "after the boto3 flow: /v2/ still asks for credentials"
expect_eq "$(ecr_repo_names)" "b3/excl b3/p01 b3/p02 b3/p03 b3/p04 b3/p05 b3/p06" "the CLI sees what boto3 left"
stop_berth
fsck_clean
ok "clean stop; fsck clean"
