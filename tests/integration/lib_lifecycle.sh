# shellcheck shell=bash
# Helpers for the lifecycle tests (t_lifecycle_*.sh): a server with auth on and a test clock,
# scenarios of images pushed "days ago", policies put with the AWS CLI v2, runs of
# `berth lifecycle run` beside the server, and the image names left afterwards.
. "$(dirname "${BASH_SOURCE[0]}")/lib_ecr.sh"

CLOCK=$T/clock
NOW=1900000000 # a fixed "now" for the registry's clock (2030), far from the real time
DAY=86400

# start_lc_berth [serve options...]: the ECR test server with the test clock at NOW.
start_lc_berth() {
    echo "$NOW" >"$CLOCK"
    start_ecr_berth --test-clock-file "$CLOCK" "$@"
    AUTHZ=$(basic_auth "$(must awsx ecr get-login-password)")
}

# scenario REPO SPEC_JSON: creates REPO and pushes the images of SPEC_JSON (see
# lifecycle_images.py); remembers name -> digest in $T/REPO.map. The clock ends at NOW.
scenario() {
    local repo=$1 map=$T/${1//\//_}.map
    must awsx ecr create-repository --repository-name "$repo" >/dev/null
    must "$PY" "$HERE/lifecycle_images.py" "$URL" "$AUTHZ" "$CLOCK" "$NOW" "$repo" "$2" >"$map.json"
    jq -r 'to_entries[] | "\(.key) \(.value)"' "$map.json" >"$map"
    echo "$NOW" >"$CLOCK"
}

# img NAME SECONDS_AGO [TAG...]: one image of a scenario spec; imgs IMG...: the spec.
img() {
    local name=$1 ago=$2
    shift 2
    jq -cn --arg n "$name" --argjson a "$ago" \
        '$ARGS.positional as $t | {name: $n, ago: $a} + (if ($t | length) > 0 then {tags: $t} else {} end)' \
        --args "$@"
}
imgs() { printf '%s\n' "$@" | jq -cs .; }

# digest_of REPO NAME / name_of REPO DIGEST
digest_of() { awk -v n="$2" '$1 == n {print $2}' "$T/${1//\//_}.map"; }
name_of() { awk -v d="$2" '$2 == d {print $1}' "$T/${1//\//_}.map"; }

# names REPO DIGEST...: the scenario names of the digests, sorted and joined with commas.
names() {
    local repo=$1 d
    shift
    for d in "$@"; do name_of "$repo" "$d"; done | sort | paste -sd, -
}

# remaining REPO: the names of the images still in REPO (list-images through the CLI).
remaining() {
    local ds
    ds=$(must awsx ecr list-images --repository-name "$1" --query 'imageIds[].imageDigest' \
        --output text | tr '\t' '\n' | sort -u)
    # shellcheck disable=SC2086
    names "$1" $ds
}

# put_policy REPO JSON: PutLifecyclePolicy through the CLI (file:// as the AWS guide shows).
put_policy() {
    printf '%s' "$2" >"$T/policy.json"
    must awsx ecr put-lifecycle-policy --repository-name "$1" \
        --lifecycle-policy-text "file://$T/policy.json" >/dev/null
}

# lc_run [options...]: `berth lifecycle run` on the data directory, beside the server, at NOW.
lc_run() {
    "$BERTH_BIN" lifecycle run --data-dir "$DATA" --test-clock-file "$CLOCK" "$@" \
        >"$T/lc.out" 2>"$T/lc.err" || fail "berth lifecycle run $*: $(cat "$T/lc.err")"
}

# expired_by_run REPO: runs REPO's policy and prints the names it expired, from the run's
# report (which must agree with what is left).
expired_by_run() {
    lc_run --repository "$1"
    # shellcheck disable=SC2046
    names "$1" $(awk '$1 == "expired" {sub(/.*@/, "", $2); print $2}' "$T/lc.out")
}

# lc_finish: stop the server; no sanitizer report; fsck clean.
lc_finish() {
    req GET /v2/ -H "Authorization: $AUTHZ"
    expect_status 200 "at the end: GET /v2/"
    stop_berth
    no_sanitizer_reports
    fsck_clean
}
