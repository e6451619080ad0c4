#!/usr/bin/env bash
# end-1: GET /v2/ answers 200 with the API version header; unknown paths are 404; a known path
# with a method it does not serve is 405 UNSUPPORTED.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
start_berth

req GET /v2/
expect_status 200 "GET /v2/"
want_hdr Docker-Distribution-API-Version registry/2.0 "GET /v2/"
ok "GET /v2/ is 200 with Docker-Distribution-API-Version: registry/2.0"

req GET /v2
expect_status 200 "GET /v2"
ok "GET /v2 without the slash is 200 too"

for p in /v3/ /v2/foo /v2/foo/bar/baz /v2/foo/blobs /v2/foo/tags /v2/foo/referrers /nothing; do
    req GET "$p"
    expect_status 404 "GET $p"
done
ok "unknown paths are 404"

# a known path with a method its endpoint does not define
check_405() {
    req "$1" "$2" "${@:3}"
    want_error 405 UNSUPPORTED "$1 $2"
}
check_405 POST /v2/
check_405 DELETE /v2/
check_405 PUT /v2/_catalog
check_405 POST /v2/lib/app/manifests/latest
check_405 PATCH /v2/lib/app/manifests/latest
check_405 POST /v2/lib/app/tags/list
check_405 DELETE /v2/lib/app/tags/list
check_405 PUT /v2/lib/app/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000
check_405 POST /v2/lib/app/referrers/sha256:0000000000000000000000000000000000000000000000000000000000000000
check_405 PUT /v2/lib/app/blobs/uploads/
check_405 POST /v2/lib/app/blobs/uploads/0123456789abcdef0123456789abcdef
ok "wrong methods on known paths are 405 UNSUPPORTED"

# none of that created anything
expect_eq "$(catalog)" "" "catalog after probing"
finish
