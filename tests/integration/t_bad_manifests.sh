#!/usr/bin/env bash
# Hostile manifest bodies: malformed JSON, non-objects, duplicate keys, wrong field types, huge
# bodies (413 MANIFEST_INVALID, with and without Content-Length), and bodies right at the size
# limit (accepted only when valid). None of them leaves a tag, a manifest or a repository behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
start_berth
R=lib/bad
LIMIT=$((4 * 1024 * 1024)) # the default --max-manifest-size

gen_text "$T/cfg" '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
gen_bytes "$T/layer" 100 1
push_blob $R "$T/cfg" >/dev/null
push_blob $R "$T/layer" >/dev/null
C=$(desc $MT_OCI_CONFIG "$T/cfg")
L=$(desc $MT_OCI_LAYER "$T/layer")
mk_image "$T/good.json" $MT_OCI_MANIFEST "$C" "$L"

# refused STATUS FILE WHAT [CONTENT_TYPE [curl options...]]: PUT as tag "t", by its own digest,
# and into a repository that does not exist yet; all refused with MANIFEST_INVALID; nothing
# stored
refused() {
    local st=$1 f=$2 what=$3 ct=${4:-$MT_OCI_MANIFEST} d
    shift $(($# < 4 ? $# : 4))
    d=$(sha256_of "$f")
    req PUT "/v2/$R/manifests/t" -H "Content-Type: $ct" --data-binary @"$f" "$@"
    want_error "$st" MANIFEST_INVALID "$what (by tag)"
    req PUT "/v2/$R/manifests/$d" -H "Content-Type: $ct" --data-binary @"$f" "$@"
    want_error "$st" MANIFEST_INVALID "$what (by digest)"
    req PUT "/v2/lib/fresh/manifests/t" -H "Content-Type: $ct" --data-binary @"$f" "$@"
    want_error "$st" MANIFEST_INVALID "$what (new repository)"
    req GET "/v2/$R/manifests/t"
    want_error 404 MANIFEST_UNKNOWN "$what: GET by tag afterwards"
    req GET "/v2/$R/manifests/$d"
    want_error 404 MANIFEST_UNKNOWN "$what: GET by digest afterwards"
}

# --- not JSON, not an object
n=0
for body in '' ' ' '{' '}' '{"schemaVersion":2,' 'null' '[]' '"manifest"' '2' 'true' \
    '{"schemaVersion":2}garbage' $'\xff\xfe{}' \
    '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":'; do
    printf '%s' "$body" >"$T/e.json"
    refused 400 "$T/e.json" "body '${body:0:30}'"
    n=$((n + 1))
done
# a valid manifest followed by a second document, and a NUL byte inside
{
    cat "$T/good.json"
    printf '\n{}'
} >"$T/e.json"
refused 400 "$T/e.json" "two JSON documents"
{
    head -c 20 "$T/good.json"
    printf '\0'
    tail -c +21 "$T/good.json"
} >"$T/e.json"
refused 400 "$T/e.json" "NUL byte inside"
ok "$n malformed or non-object bodies, trailing documents and NUL bytes -> 400 MANIFEST_INVALID"

# --- duplicate keys (two parsers could see two different manifests)
sed 's/^{/{"schemaVersion":2,/' "$T/good.json" >"$T/e.json"
refused 400 "$T/e.json" "duplicate schemaVersion"
sed 's/^{/{"layers":[],/' "$T/good.json" >"$T/e.json"
refused 400 "$T/e.json" "duplicate layers"
sed 's/"config":{/"config":{"size":1,/' "$T/good.json" >"$T/e.json"
refused 400 "$T/e.json" "duplicate key inside a descriptor"
grep -q '"config":{"size":1,' "$T/e.json" || fail "test setup: duplicate key not inserted"
ok "duplicate keys -> 400 MANIFEST_INVALID"

# --- wrong types and shapes
shape() {
    jq -c "$1" "$T/good.json" >"$T/e.json"
    refused 400 "$T/e.json" "$1"
}
shape '.layers = {}'
shape '.layers = null'
shape 'del(.config)'
shape '.config = "x"'
shape '.config.size = "100"'
shape '.config.size = -1'
shape '.config.size = 1.5'
shape '.config.digest = 5'
shape '.config.digest = "sha256:abc"'
shape '.config.digest = "../../../etc/passwd"'
shape 'del(.config.mediaType)'
shape '.layers[0].digest = "sha256:../../../../etc/passwd"'
shape '.annotations = []'
shape '.annotations = {"a": 1}'
shape '.mediaType = 5'
shape '.manifests = []'
shape '.subject = "sha256:abc"'
shape '.subject = {"mediaType": "x", "digest": "nope", "size": 1}'
ok "wrong field types and shapes -> 400 MANIFEST_INVALID"

# --- size limits
# pad OUT SIZE VALID: the good manifest padded with an annotation to exactly SIZE bytes;
# VALID=0 makes it invalid JSON of the same size
pad() {
    "$PY" -c '
import json, sys
src, out, size, valid = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
m = json.load(open(src))
m["annotations"] = {"pad": ""}
base = len(json.dumps(m, separators=(",", ":")).encode())
m["annotations"]["pad"] = "x" * (size - base)
data = json.dumps(m, separators=(",", ":")).encode()
if not valid:
    data = data[:-1] + b"]"
assert len(data) == size, (len(data), size)
open(out, "wb").write(data)
' "$T/good.json" "$1" "$2" "$3"
}
pad "$T/big.json" $((5 * 1024 * 1024)) 1
refused 413 "$T/big.json" "5 MiB manifest"
refused 413 "$T/big.json" "5 MiB manifest without Content-Length" $MT_OCI_MANIFEST \
    -H 'Transfer-Encoding: chunked'
pad "$T/big.json" $((LIMIT + 1)) 1
refused 413 "$T/big.json" "limit+1 bytes"
ok "manifests over the limit -> 413 MANIFEST_INVALID (with and without Content-Length)"

pad "$T/edge.json" $LIMIT 0
refused 400 "$T/edge.json" "invalid manifest of exactly the limit"
pad "$T/edge.json" $((LIMIT - 1)) 0
refused 400 "$T/edge.json" "invalid manifest just under the limit"
pad "$T/edge.json" $LIMIT 1
d=$(put_manifest $R edge "$T/edge.json" $MT_OCI_MANIFEST)
want_manifest $R edge "$T/edge.json" $MT_OCI_MANIFEST
req DELETE "/v2/$R/manifests/$d"
expect_status 202 "DELETE the 4 MiB manifest"
ok "a valid manifest of exactly the limit (4 MiB) is accepted and returned intact; invalid ones are 400"

# nothing of the refused pushes stayed: no tags in $R, no repository lib/fresh
expect_eq "$(tags_of $R)" "" "tags after the refused pushes"
expect_eq "$(catalog)" "$R" "catalog after the refused pushes"
want_no_manifest lib/fresh t NAME_UNKNOWN
ok "no refused manifest left a tag, a manifest or a repository behind"

finish
