#!/usr/bin/env bash
# Hostile repository names: path traversal, upper case, empty components, trailing slashes,
# over-long names. Manifest PUT, upload POST (plain and monolithic) and tags/list answer
# 400 NAME_INVALID, and nothing is created: the catalog stays empty and no bytes are stored.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
start_berth

gen_text "$T/blob" 'hello'
D=$(sha256_of "$T/blob")
gen_text "$T/cfg" '{}'
mk_image "$T/m.json" $MT_OCI_MANIFEST "$(desc $MT_OCI_CONFIG "$T/cfg")"

long=$(printf 'a%.0s' $(seq 1 300))
long2=$(printf 'abcdefghi/%.0s' $(seq 1 30))x
NAMES=(
    "../etc" "lib/../etc" "lib/.." ".." "." "./lib" "lib/./x"
    "Upper" "lib/App" "LIB"
    "a//b" "/lib" "lib/" "lib//" "a/b/"
    "$long" "$long2"
    "-lib" "lib-" "lib_" "_lib" "lib..x" "lib___x" ".lib" "lib."
    "lib%20x" "lib%2F..%2Fetc" "lib%2e%2e" "lib%00x" "lib;x" "lib~x" "lib:tag" "lib@x"
)

# check NAME: each endpoint refuses NAME (path copied verbatim: --path-as-is keeps curl from
# normalising ../ and //)
check() {
    local n=$1 what
    what="name '${n:0:60}'"
    req PUT "/v2/$n/manifests/latest" --path-as-is -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$T/m.json"
    bad "$what: manifest PUT"
    req POST "/v2/$n/blobs/uploads/" --path-as-is -H 'Content-Length: 0'
    bad "$what: upload POST"
    req POST "/v2/$n/blobs/uploads/?digest=$D" --path-as-is -H 'Content-Type: application/octet-stream' --data-binary @"$T/blob"
    bad "$what: monolithic POST"
    req GET "/v2/$n/tags/list" --path-as-is
    bad "$what: tags/list"
}

# bad WHAT: 400 NAME_INVALID. A name with an encoded NUL may instead be a 404 for the whole
# endpoint (the decoded path ends at the NUL, so no route matches): that creates nothing either.
bad() {
    if [ "$STATUS" = 404 ] && [ "$NO_ROUTE_OK" = 1 ]; then return; fi
    want_error 400 NAME_INVALID "$1"
}

for n in "${NAMES[@]}"; do
    case "$n" in *%00*) NO_ROUTE_OK=1 ;; *) NO_ROUTE_OK=0 ;; esac
    check "$n"
done
ok "${#NAMES[@]} hostile names -> 400 NAME_INVALID on manifest PUT, upload POST and tags/list"

# nothing was created
expect_eq "$(catalog)" "" "catalog after the hostile names"
blob_stored "$D" && fail "a blob was stored under a hostile name"
expect_eq "$(find "$DATA" -name '*etc*' | wc -l)" 0 "files named after a traversal target"
ok "nothing was created: the catalog is empty, no blob or upload stored"

# the longest valid name works, one more character does not
n255=$(printf 'b%.0s' $(seq 1 255))
req POST "/v2/$n255/blobs/uploads/?digest=$D" -H 'Content-Type: application/octet-stream' --data-binary @"$T/blob"
expect_status 201 "a 255-character name"
req POST "/v2/${n255}b/blobs/uploads/?digest=$D" -H 'Content-Type: application/octet-stream' --data-binary @"$T/blob"
want_error 400 NAME_INVALID "a 256-character name"
expect_eq "$(catalog)" "$n255" "catalog after the length probes"
ok "a 255-character name is accepted, 256 is 400 NAME_INVALID"

finish
