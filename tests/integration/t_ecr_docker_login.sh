#!/usr/bin/env bash
# `aws ecr get-login-password | docker login --username AWS --password-stdin` works: the docker
# CLI answers the 401 Basic challenge of /v2/ with the token (it logs in client-side, so no
# daemon is needed); a wrong password is refused; logout forgets it.
. "$(dirname "$0")/lib_ecr.sh"
command -v docker >/dev/null || fail "the docker CLI is missing (scripts/install-test-deps installs it)"
export DOCKER_CONFIG=$T/docker
mkdir -p "$DOCKER_CONFIG"
start_ecr_berth

pw=$(must awsx ecr get-login-password)
printf '%s' "$pw" | docker login --username AWS --password-stdin "$REG" >"$T/login.out" 2>&1 ||
    fail "docker login failed: $(cat "$T/login.out")"
[[ "$(cat "$T/login.out")" == *"Login Succeeded"* ]] || fail "no Login Succeeded: $(cat "$T/login.out")"
stored=$(jq -r --arg r "$REG" '.auths[$r].auth' "$DOCKER_CONFIG/config.json" | base64 -d)
expect_eq "$stored" "AWS:$pw" "the credentials docker stored"
n=$(grep -c "GET /v2/ 200" "$T/berth.log" || true)
[ "$n" -ge 1 ] || fail "docker never got a 200 from /v2/"
ok "get-login-password | docker login succeeds against /v2/"

printf 'not-a-token' | docker login --username AWS --password-stdin "$REG" >"$T/bad.out" 2>&1 &&
    fail "docker login accepted a wrong password"
[[ "$(cat "$T/bad.out")" == *nauthorized* ]] || fail "refusal does not say unauthorized: $(cat "$T/bad.out")"
printf '%s' "$pw" | docker login --username someone --password-stdin "$REG" >"$T/bad.out" 2>&1 &&
    fail "docker login accepted a user other than AWS"
ok "docker login with a wrong password or user is refused"

docker logout "$REG" >/dev/null 2>&1 || fail "docker logout failed"
left=$(jq -r --arg r "$REG" '.auths[$r].auth // "none"' "$DOCKER_CONFIG/config.json")
expect_eq "$left" none "credentials after logout"
ok "docker logout forgets the registry"
stop_berth
