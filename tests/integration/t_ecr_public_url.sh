#!/usr/bin/env bash
# --public-url is the registry address ECR responses report: repositoryUri, proxyEndpoint and
# download URLs; another account's registry is <account>.<host>. Without it, the Host the client
# used is reported.
. "$(dirname "$0")/lib_ecr.sh"
start_ecr_berth --public-url https://registry.example.com:8443

uri=$(must awsx ecr create-repository --repository-name web/app --query repository.repositoryUri --output text)
expect_eq "$uri" registry.example.com:8443/web/app "repositoryUri"
ep=$(must awsx ecr get-authorization-token --query 'authorizationData[0].proxyEndpoint' --output text)
expect_eq "$ep" https://registry.example.com:8443 "proxyEndpoint"
"$BERTH_BIN" admin create-account 111111111111 --data-dir "$DATA" >/dev/null
ep=$(must awsx ecr get-authorization-token --registry-ids 111111111111 --query 'authorizationData[0].proxyEndpoint' --output text)
expect_eq "$ep" https://111111111111.registry.example.com:8443 "proxyEndpoint of another account"
ok "--public-url sets repositoryUri and proxyEndpoint"
stop_berth

start_ecr_berth
uri=$(must awsx ecr describe-repositories --repository-names web/app --query 'repositories[0].repositoryUri' --output text)
expect_eq "$uri" "$REG/web/app" "repositoryUri without --public-url"
ep=$(must awsx ecr get-authorization-token --query 'authorizationData[0].proxyEndpoint' --output text)
expect_eq "$ep" "http://$REG" "proxyEndpoint without --public-url"
ok "without --public-url the Host the client called is reported"
stop_berth
