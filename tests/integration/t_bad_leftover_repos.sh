#!/usr/bin/env bash
# A refused push into a repository that does not exist yet leaves no repository behind: the
# catalog does not list it and its tags/list stays 404 NAME_UNKNOWN. (Repositories cannot be
# deleted through the API, so one created by a failed push would stay forever.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
start_berth
Z=sha256:0000000000000000000000000000000000000000000000000000000000000000

gen_text "$T/cfg" '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
push_blob lib/real "$T/cfg" >/dev/null
mk_image "$T/m.json" $MT_OCI_MANIFEST "$(desc $MT_OCI_CONFIG "$T/cfg")"
gen_bytes "$T/x" 100 1

# none_created NAME WHAT
none_created() {
    expect_eq "$(catalog)" lib/real "$2: catalog"
    req GET "/v2/$1/tags/list"
    want_error 404 NAME_UNKNOWN "$2: tags/list of $1"
}

req PUT /v2/ghost/a/manifests/v1 -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$T/m.json"
want_error 400 MANIFEST_BLOB_UNKNOWN "manifest whose config is not in the new repository"
none_created ghost/a "refused manifest (MANIFEST_BLOB_UNKNOWN)"

req PUT "/v2/ghost/b/manifests/$Z" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$T/m.json"
want_error 400 DIGEST_INVALID "manifest by a digest that is not its own"
none_created ghost/b "refused manifest (DIGEST_INVALID)"

req POST "/v2/ghost/c/blobs/uploads/?digest=$Z" -H 'Content-Type: application/octet-stream' --data-binary @"$T/x"
want_error 400 DIGEST_INVALID "monolithic POST with the wrong digest"
none_created ghost/c "refused monolithic POST (wrong digest)"

req POST "/v2/ghost/d/blobs/uploads/?digest=blake3:abc" -H 'Content-Type: application/octet-stream' --data-binary @"$T/x"
want_error 400 DIGEST_INVALID "monolithic POST with an unsupported digest"
none_created ghost/d "refused monolithic POST (unsupported digest)"
ok "refused pushes into new repositories create no repository"

finish
