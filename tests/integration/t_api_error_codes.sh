#!/usr/bin/env bash
# Every 4xx answer with a JSON body uses the error format of the distribution spec, and its code
# is one of the codes the spec lists ("The code field MUST be one of the following"). A sample of
# error answers from every endpoint; all offenders are reported together.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
start_berth
R=lib/codes
Z=sha256:0000000000000000000000000000000000000000000000000000000000000000

gen_text "$T/cfg" '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
push_blob $R "$T/cfg" >/dev/null
mk_image "$T/m.json" $MT_OCI_MANIFEST "$(desc $MT_OCI_CONFIG "$T/cfg")"
put_manifest $R v1 "$T/m.json" $MT_OCI_MANIFEST >/dev/null
loc=$(start_upload $R)
gen_bytes "$T/x" 100 1

offenders=()
n=0
# probe WHAT METHOD PATH [curl options...]: a 4xx whose body, if JSON, is a spec error body
probe() {
    local what=$1
    shift
    req "$@"
    n=$((n + 1))
    case "$STATUS" in 4??) ;; *) fail "$what: status $STATUS, want a 4xx" ;; esac
    jq -e . "$BODY" >/dev/null 2>&1 || return 0 # not JSON: any format is allowed
    local codes c
    codes=$(jq -r 'if (.errors | type) == "array" and (.errors | length) > 0
        then .errors[] | (.code // "<none>") else "<no errors array>" end' "$BODY" 2>/dev/null ||
        echo "<malformed>")
    for c in $codes; do
        case " ${SPEC_ERROR_CODES//$'\n'/ } " in
        *" $c "*) ;;
        *) offenders+=("$what -> $STATUS $c") ;;
        esac
    done
}

probe "unknown endpoint" GET /v2/nothing/here
probe "unknown top-level path" GET /v3/
probe "wrong method" DELETE /v2/
probe "tags/list n=abc" GET "/v2/$R/tags/list?n=abc"
probe "catalog n=abc" GET "/v2/_catalog?n=abc"
probe "invalid tag on PUT" PUT "/v2/$R/manifests/-bad" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$T/m.json"
probe "invalid tag on GET" GET "/v2/$R/manifests/-bad"
probe "invalid tag on DELETE" DELETE "/v2/$R/manifests/-bad"
probe "invalid name" GET /v2/UPPER/tags/list
probe "unknown repository" GET /v2/lib/none/tags/list
probe "unknown manifest" GET "/v2/$R/manifests/nope"
probe "unknown blob" GET "/v2/$R/blobs/$Z"
probe "malformed blob digest" GET "/v2/$R/blobs/sha256:abc"
probe "unsupported blob digest" GET "/v2/$R/blobs/blake3:abc"
probe "malformed referrers digest" GET "/v2/$R/referrers/sha256:abc"
probe "unknown upload" GET "/v2/$R/blobs/uploads/0123456789abcdef0123456789abcdef"
probe "junk Content-Range" PATCH "$loc" -H 'Content-Range: abc' --data-binary @"$T/x"
probe "Content-Length vs Content-Range" PATCH "$loc" -H 'Content-Range: 0-9' --data-binary @"$T/x"
probe "PUT without digest" PUT "$loc" --data-binary @"$T/x"
probe "wrong digest" POST "/v2/$R/blobs/uploads/?digest=$Z" --data-binary @"$T/x"
probe "manifest not JSON" PUT "/v2/$R/manifests/t" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary 'x'
probe "manifest media type unknown" PUT "/v2/$R/manifests/t" -H 'Content-Type: application/x-nope' \
    --data-binary '{"schemaVersion":2,"mediaType":"application/x-nope"}'
probe "manifest blob unknown" PUT "/v2/$R/manifests/t" -H "Content-Type: $MT_OCI_MANIFEST" \
    --data-binary "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"$Z\",\"size\":1},\"layers\":[]}"
probe "blob still referenced" DELETE "/v2/$R/blobs/$(sha256_of "$T/cfg")"
probe "unknown range" GET "/v2/$R/blobs/$(sha256_of "$T/cfg")" -H 'Range: bytes=99999-'
req DELETE "$loc"

if [ ${#offenders[@]} -gt 0 ]; then
    printf '  %s\n' "${offenders[@]}" >&2
    fail "${#offenders[@]} of $n error answers use a code the distribution spec does not list"
fi
ok "$n error answers all use codes from the distribution spec's list"
finish
