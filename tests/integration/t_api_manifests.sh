#!/usr/bin/env bash
# end-3/end-7/end-9: manifests of the four supported media types pushed, pulled (exact bytes,
# Content-Type, Docker-Content-Digest) and deleted by tag and by digest; untagged manifests;
# re-tagging; and the push errors (digest mismatch, missing blobs or children, wrong sizes, wrong
# Content-Type, wrong schemaVersion) that must store nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
start_berth
R=lib/app

# blobs
gen_text "$T/cfg1" '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
gen_text "$T/cfg2" '{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
gen_text "$T/cfgd" '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}'
gen_bytes "$T/l1" 2000 1
gen_bytes "$T/l2" 3000 2
for f in cfg1 cfg2 cfgd l1 l2; do push_blob $R "$T/$f" >/dev/null; done
C1=$(desc $MT_OCI_CONFIG "$T/cfg1")
C2=$(desc $MT_OCI_CONFIG "$T/cfg2")
CD=$(desc $MT_DOCKER_CONFIG "$T/cfgd")
L1=$(desc $MT_OCI_LAYER "$T/l1")
L2=$(desc $MT_OCI_LAYER "$T/l2")
DL2=$(desc $MT_DOCKER_LAYER "$T/l2")

# --- OCI image manifest by tag; pretty-printed so "exact bytes" means something
mk_image "$T/m1.c" $MT_OCI_MANIFEST "$C1" "$L1" "$L2"
jq . "$T/m1.c" >"$T/m1.json"
m1=$(put_manifest $R v1 "$T/m1.json" $MT_OCI_MANIFEST)
want_manifest $R v1 "$T/m1.json" $MT_OCI_MANIFEST
want_manifest $R "$m1" "$T/m1.json" $MT_OCI_MANIFEST
ok "OCI image manifest: PUT by tag -> 201; GET/HEAD by tag and digest return the exact bytes"

# --- OCI image manifest by digest: untagged, stays retrievable by digest
mk_image "$T/m2.json" $MT_OCI_MANIFEST "$C2" "$L2"
d2=$(sha256_of "$T/m2.json")
req PUT "/v2/$R/manifests/$d2" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$T/m2.json"
expect_status 201 "PUT by digest"
want_hdr Location "/v2/$R/manifests/$d2" "PUT by digest"
want_hdr Docker-Content-Digest "$d2" "PUT by digest"
m2=$d2
want_manifest $R "$m2" "$T/m2.json" $MT_OCI_MANIFEST
expect_eq "$(tags_of $R)" "v1" "tags after an untagged push"
ok "PUT by digest -> 201 with Location /v2/$R/manifests/<digest>; untagged but retrievable"

# --- OCI index
mk_index "$T/i1.json" $MT_OCI_INDEX "$(platform "$(desc $MT_OCI_MANIFEST "$T/m1.json")" linux amd64)" \
    "$(platform "$(desc $MT_OCI_MANIFEST "$T/m2.json")" linux arm64)"
i1=$(put_manifest $R multi "$T/i1.json" $MT_OCI_INDEX)
want_manifest $R multi "$T/i1.json" $MT_OCI_INDEX
want_manifest $R "$i1" "$T/i1.json" $MT_OCI_INDEX
ok "OCI image index: PUT/GET/HEAD by tag and digest"

# --- Docker schema 2 manifest and manifest list
mk_image "$T/dm.c" $MT_DOCKER_MANIFEST "$CD" "$DL2"
jq --indent 3 . "$T/dm.c" >"$T/dm.json"
dm=$(put_manifest $R docker "$T/dm.json" $MT_DOCKER_MANIFEST)
want_manifest $R docker "$T/dm.json" $MT_DOCKER_MANIFEST
want_manifest $R "$dm" "$T/dm.json" $MT_DOCKER_MANIFEST
mk_index "$T/dl.json" $MT_DOCKER_LIST "$(platform "$(desc $MT_DOCKER_MANIFEST "$T/dm.json")" linux amd64)"
dl=$(put_manifest $R dlist "$T/dl.json" $MT_DOCKER_LIST)
want_manifest $R dlist "$T/dl.json" $MT_DOCKER_LIST
want_manifest $R "$dl" "$T/dl.json" $MT_DOCKER_LIST
ok "Docker schema 2 manifest and manifest list: PUT/GET/HEAD by tag and digest"

# --- Content-Type parameters are ignored (the spec says registries SHOULD)
mk_image "$T/m3.json" $MT_OCI_MANIFEST "$C1" "$L1"
req PUT "/v2/$R/manifests/m3" -H "Content-Type: $MT_OCI_MANIFEST; charset=utf-8" --data-binary @"$T/m3.json"
expect_status 201 "PUT with a Content-Type parameter"
m3=$(sha256_of "$T/m3.json")
want_hdr Docker-Content-Digest "$m3" "PUT with a Content-Type parameter"
want_manifest $R m3 "$T/m3.json" $MT_OCI_MANIFEST
ok "a Content-Type with parameters is accepted"

TAGS="dlist,docker,m3,multi,v1"
expect_eq "$(tags_of $R)" "$TAGS" "tags after the pushes"

# --- push errors: each stores nothing (no tag, no manifest under its digest, tags unchanged)
# bad_push WHAT STATUS CODE FILE CONTENT_TYPE [REF]
bad_push() {
    local ref=${6:-bad}
    req PUT "/v2/$R/manifests/$ref" -H "Content-Type: $5" --data-binary @"$4"
    want_error "$2" "$3" "$1"
    want_no_manifest $R bad
    want_no_manifest $R "$(sha256_of "$4")"
    expect_eq "$(tags_of $R)" "$TAGS" "tags after: $1"
}

# digest reference that does not match the body
mk_image "$T/e.json" $MT_OCI_MANIFEST "$C2" "$L1"
bad_push "PUT by a digest that is not the body's" 400 DIGEST_INVALID "$T/e.json" $MT_OCI_MANIFEST "$m1"
want_manifest $R "$m1" "$T/m1.json" $MT_OCI_MANIFEST
bad_push "PUT by a digest of nothing" 400 DIGEST_INVALID "$T/e.json" $MT_OCI_MANIFEST \
    sha256:0000000000000000000000000000000000000000000000000000000000000000
ok "PUT by a digest reference that does not match the body -> 400 DIGEST_INVALID"

# references to blobs the repository does not have (one is in another repository)
gen_bytes "$T/elsewhere" 500 5
push_blob lib/elsewhere "$T/elsewhere" >/dev/null
gen_bytes "$T/nowhere" 600 6
mk_image "$T/e.json" $MT_OCI_MANIFEST "$C1" "$L1" "$(desc $MT_OCI_LAYER "$T/elsewhere")"
bad_push "layer only in another repository" 400 MANIFEST_BLOB_UNKNOWN "$T/e.json" $MT_OCI_MANIFEST
mk_image "$T/e.json" $MT_OCI_MANIFEST "$C1" "$(desc $MT_OCI_LAYER "$T/nowhere")"
bad_push "layer never pushed" 400 MANIFEST_BLOB_UNKNOWN "$T/e.json" $MT_OCI_MANIFEST
mk_image "$T/e.json" $MT_OCI_MANIFEST "$(desc $MT_OCI_CONFIG "$T/nowhere")" "$L1"
bad_push "config never pushed" 400 MANIFEST_BLOB_UNKNOWN "$T/e.json" $MT_OCI_MANIFEST
mk_image "$T/e.json" $MT_DOCKER_MANIFEST "$CD" "$(desc $MT_DOCKER_LAYER "$T/nowhere")"
bad_push "Docker manifest with a missing layer" 400 MANIFEST_BLOB_UNKNOWN "$T/e.json" $MT_DOCKER_MANIFEST
ok "a manifest referencing a blob not in the repository -> 400 MANIFEST_BLOB_UNKNOWN"

# index children that are missing: never pushed, or only in another repository
mk_image "$T/child.json" $MT_OCI_MANIFEST "$C1" "$L2"
mk_index "$T/e.json" $MT_OCI_INDEX "$(desc $MT_OCI_MANIFEST "$T/m1.json")" "$(desc $MT_OCI_MANIFEST "$T/child.json")"
bad_push "index with a child never pushed" 400 MANIFEST_BLOB_UNKNOWN "$T/e.json" $MT_OCI_INDEX
mk_image "$T/oc.json" $MT_OCI_MANIFEST "$(desc $MT_OCI_CONFIG "$T/elsewhere")"
put_manifest lib/elsewhere x "$T/oc.json" $MT_OCI_MANIFEST >/dev/null
mk_index "$T/e.json" $MT_OCI_INDEX "$(desc $MT_OCI_MANIFEST "$T/oc.json")"
bad_push "index with a child in another repository" 400 MANIFEST_BLOB_UNKNOWN "$T/e.json" $MT_OCI_INDEX
mk_index "$T/e.json" $MT_DOCKER_LIST "$(desc $MT_DOCKER_MANIFEST "$T/child.json")"
bad_push "manifest list with a child never pushed" 400 MANIFEST_BLOB_UNKNOWN "$T/e.json" $MT_DOCKER_LIST
ok "an index referencing a missing child manifest -> 400 MANIFEST_BLOB_UNKNOWN"

# wrong sizes
wrong_size() { jq -c '.size += 1' <<<"$1"; }
mk_image "$T/e.json" $MT_OCI_MANIFEST "$C1" "$(wrong_size "$L1")"
bad_push "layer size off by one" 400 MANIFEST_INVALID "$T/e.json" $MT_OCI_MANIFEST
mk_image "$T/e.json" $MT_OCI_MANIFEST "$(wrong_size "$C1")" "$L1"
bad_push "config size off by one" 400 MANIFEST_INVALID "$T/e.json" $MT_OCI_MANIFEST
mk_index "$T/e.json" $MT_OCI_INDEX "$(wrong_size "$(desc $MT_OCI_MANIFEST "$T/m1.json")")"
bad_push "index child size off by one" 400 MANIFEST_INVALID "$T/e.json" $MT_OCI_INDEX
ok "a descriptor with the wrong size -> 400 MANIFEST_INVALID"

# Content-Type that is not the body's mediaType
mk_image "$T/e.json" $MT_OCI_MANIFEST "$C2" "$L1"
bad_push "OCI manifest sent as a Docker manifest" 400 MANIFEST_INVALID "$T/e.json" $MT_DOCKER_MANIFEST
bad_push "OCI manifest sent as an index" 400 MANIFEST_INVALID "$T/e.json" $MT_OCI_INDEX
mk_index "$T/e.json" $MT_OCI_INDEX "$(desc $MT_OCI_MANIFEST "$T/m1.json")"
bad_push "index sent as a Docker manifest list" 400 MANIFEST_INVALID "$T/e.json" $MT_DOCKER_LIST
ok "Content-Type not matching the body's mediaType -> 400 MANIFEST_INVALID"

# schemaVersion
for sv in 3 1 0 '"2"' null; do
    jq -c --argjson v "$sv" '.schemaVersion = $v' "$T/m3.json" >"$T/e.json"
    bad_push "schemaVersion $sv" 400 MANIFEST_INVALID "$T/e.json" $MT_OCI_MANIFEST
done
jq -c 'del(.schemaVersion)' "$T/m3.json" >"$T/e.json"
bad_push "no schemaVersion" 400 MANIFEST_INVALID "$T/e.json" $MT_OCI_MANIFEST
ok "a wrong or missing schemaVersion -> 400 MANIFEST_INVALID"

# tags outside [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
long=$(printf 'a%.0s' $(seq 1 129))
for t in -bad .bad "bad!" "bad%20tag" "$long" "sha256:abc" "bad:tag"; do
    req PUT "/v2/$R/manifests/$t" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$T/m3.json"
    expect_status 400 "PUT with the invalid reference '${t:0:40}'"
    req GET "/v2/$R/manifests/$t"
    [ "$STATUS" = 400 ] || [ "$STATUS" = 404 ] || fail "GET of invalid reference $t: status $STATUS"
done
expect_eq "$(tags_of $R)" "$TAGS" "tags after invalid references"
ok "invalid tag references -> 400; nothing tagged"

# --- re-tagging moves the tag
put_manifest $R old "$T/m1.json" $MT_OCI_MANIFEST >/dev/null
put_manifest $R v1 "$T/m3.json" $MT_OCI_MANIFEST >/dev/null
want_manifest $R v1 "$T/m3.json" $MT_OCI_MANIFEST
want_manifest $R old "$T/m1.json" $MT_OCI_MANIFEST
want_manifest $R "$m1" "$T/m1.json" $MT_OCI_MANIFEST
TAGS="dlist,docker,m3,multi,old,v1"
expect_eq "$(tags_of $R)" "$TAGS" "tags after re-tagging"
ok "re-tagging moves the tag; the old manifest stays by digest"

# --- DELETE by tag removes only the tag
req DELETE "/v2/$R/manifests/docker"
expect_status 202 "DELETE by tag"
want_no_manifest $R docker
want_manifest $R "$dm" "$T/dm.json" $MT_DOCKER_MANIFEST
want_manifest $R dlist "$T/dl.json" $MT_DOCKER_LIST
req DELETE "/v2/$R/manifests/docker"
want_error 404 MANIFEST_UNKNOWN "DELETE of a deleted tag"
TAGS="dlist,m3,multi,old,v1"
expect_eq "$(tags_of $R)" "$TAGS" "tags after DELETE by tag"
ok "DELETE by tag -> 202; the tag is gone, the manifest stays by digest"

# --- a manifest an index lists cannot be deleted
for d in "$m1" "$m2" "$dm"; do
    req DELETE "/v2/$R/manifests/$d"
    expect_status 409 "DELETE of $d, listed by an index"
done
want_manifest $R "$m1" "$T/m1.json" $MT_OCI_MANIFEST
want_manifest $R old "$T/m1.json" $MT_OCI_MANIFEST
want_manifest $R "$m2" "$T/m2.json" $MT_OCI_MANIFEST
want_manifest $R multi "$T/i1.json" $MT_OCI_INDEX
ok "DELETE of a manifest an index in the repository lists -> 409; everything still pullable"

# --- DELETE by digest removes the manifest and its tags
req DELETE "/v2/$R/manifests/$i1"
expect_status 202 "DELETE index by digest"
want_no_manifest $R "$i1"
want_no_manifest $R multi
req DELETE "/v2/$R/manifests/$m1"
expect_status 202 "DELETE of m1 once its index is gone"
want_no_manifest $R "$m1"
want_no_manifest $R old
want_manifest $R v1 "$T/m3.json" $MT_OCI_MANIFEST
req DELETE "/v2/$R/manifests/$m1"
want_error 404 MANIFEST_UNKNOWN "DELETE of a deleted digest"
TAGS="dlist,m3,v1"
expect_eq "$(tags_of $R)" "$TAGS" "tags after DELETE by digest"
ok "DELETE by digest -> 202, then 404 MANIFEST_UNKNOWN for the digest and every tag it had"

# --- unknown things
want_no_manifest $R nosuchtag
want_no_manifest $R sha256:0000000000000000000000000000000000000000000000000000000000000000
want_no_manifest lib/nosuchrepo latest NAME_UNKNOWN
want_no_manifest lib/nosuchrepo "$m3" NAME_UNKNOWN
req DELETE "/v2/lib/nosuchrepo/manifests/latest"
want_error 404 NAME_UNKNOWN "DELETE in an unknown repository"
req DELETE "/v2/lib/nosuchrepo/manifests/$m3"
want_error 404 NAME_UNKNOWN "DELETE by digest in an unknown repository"
req DELETE "/v2/$R/manifests/sha256:0000000000000000000000000000000000000000000000000000000000000000"
want_error 404 MANIFEST_UNKNOWN "DELETE of an unknown digest"
ok "unknown tag/digest -> 404 MANIFEST_UNKNOWN; unknown repository -> 404 NAME_UNKNOWN"

# what is left is whole
want_manifest $R dlist "$T/dl.json" $MT_DOCKER_LIST
want_manifest $R "$m2" "$T/m2.json" $MT_OCI_MANIFEST
finish
