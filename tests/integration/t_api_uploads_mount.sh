#!/usr/bin/env bash
# end-11: cross-repository mount. A blob the source has is mounted (201, readable in the target,
# the source keeps it); a mount the registry cannot do falls back to a normal upload session
# (202 with an upload Location) that can then be used.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
start_berth
OCT=(-H 'Content-Type: application/octet-stream')

gen_bytes "$T/blob" 3000 1
D=$(push_blob lib/src "$T/blob")

# --- a successful mount
req POST "/v2/lib/dst/blobs/uploads/?mount=$D&from=lib/src" -H 'Content-Length: 0'
expect_status 201 "mount from lib/src"
want_hdr Location "/v2/lib/dst/blobs/$D" "mount from lib/src"
want_hdr Docker-Content-Digest "$D" "mount from lib/src"
want_blob lib/dst "$D" "$T/blob"
want_blob lib/src "$D" "$T/blob"
ok "mount ?mount=<digest>&from=<repo> -> 201; the blob is readable in the target and the source"

# mounting again is harmless
req POST "/v2/lib/dst/blobs/uploads/?mount=$D&from=lib/src" -H 'Content-Length: 0'
expect_status 201 "mount again"
# the mounted copy is independent of the source's link
req DELETE "/v2/lib/src/blobs/$D"
expect_status 202 "DELETE the blob in the source"
want_no_blob lib/src "$D"
want_blob lib/dst "$D" "$T/blob"
ok "a mounted blob stays in the target when the source deletes its link"

# fallback_session WHAT: the last answer is a 202 upload session in lib/dst that works
fallback_session() {
    expect_status 202 "$1"
    local l
    l=$(loc_path)
    case "$l" in /v2/lib/dst/blobs/uploads/?*) ;; *) fail "$1: Location '$l' is not an upload" ;; esac
    gen_bytes "$T/fresh" 100 "$2"
    local d
    d=$(sha256_of "$T/fresh")
    req PUT "$(with_query "$l" "digest=$d")" "${OCT[@]}" --data-binary @"$T/fresh"
    expect_status 201 "$1: using the fallback session"
    want_blob lib/dst "$d" "$T/fresh"
}

# --- mounts that cannot be done
gen_bytes "$T/other" 50 9
O=$(push_blob lib/other "$T/other")
req POST "/v2/lib/dst/blobs/uploads/?mount=$O&from=lib/src" -H 'Content-Length: 0'
fallback_session "mount of a blob lib/src lacks" 11
want_no_blob lib/dst "$O"
req POST "/v2/lib/dst/blobs/uploads/?mount=$O&from=lib/missing" -H 'Content-Length: 0'
fallback_session "mount from an unknown repository" 12
req POST "/v2/lib/dst/blobs/uploads/?mount=$O&from=Not..Valid" -H 'Content-Length: 0'
fallback_session "mount from an invalid repository name" 13
req POST "/v2/lib/dst/blobs/uploads/?mount=sha256:nothex&from=lib/other" -H 'Content-Length: 0'
fallback_session "mount of a malformed digest" 14
want_no_blob lib/dst "$O"
expect_eq "$(catalog)" "lib/dst,lib/other,lib/src" "catalog after the failed mounts"
ok "a mount that cannot be done -> 202 with a usable upload session; nothing mounted"

finish
