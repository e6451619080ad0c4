#!/usr/bin/env bash
# end-12a/end-12b: manifests with a subject answer OCI-Subject on PUT and are listed by
# GET /v2/<name>/referrers/<digest> as descriptors with mediaType, digest, size, artifactType
# (falling back to config.mediaType; omitted for an index without one) and annotations;
# ?artifactType= filters and says so in OCI-Filters-Applied; no referrers is an empty index.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
start_berth
R=lib/ref
SBOM=application/vnd.example.sbom.v1
SIG=application/vnd.example.signature.v1

# the subject image
gen_text "$T/cfg" '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
gen_bytes "$T/layer" 1000 1
push_blob $R "$T/cfg" >/dev/null
push_blob $R "$T/layer" >/dev/null
mk_image "$T/img.json" $MT_OCI_MANIFEST "$(desc $MT_OCI_CONFIG "$T/cfg")" "$(desc $MT_OCI_LAYER "$T/layer")"
subj=$(put_manifest $R v1 "$T/img.json" $MT_OCI_MANIFEST)
req PUT "/v2/$R/manifests/v1" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$T/img.json"
want_no_hdr OCI-Subject "PUT of a manifest without subject"
SUBJ=$(desc $MT_OCI_MANIFEST "$T/img.json")

# artifacts: the empty config, and a payload blob
gen_text "$T/empty" '{}'
push_blob $R "$T/empty" >/dev/null
EMPTY=$(desc $MT_OCI_EMPTY "$T/empty")
gen_text "$T/sbom" '{"packages":[]}'
push_blob $R "$T/sbom" >/dev/null
gen_bytes "$T/sig" 64 2
push_blob $R "$T/sig" >/dev/null

# artifact OUT ARTIFACT_TYPE CONFIG LAYER [ANNOTATIONS_JSON]
artifact() {
    jq -cnj --arg mt $MT_OCI_MANIFEST --arg at "$2" --argjson c "$3" --argjson l "$4" \
        --argjson s "$SUBJ" --argjson a "${5:-null}" \
        '{schemaVersion: 2, mediaType: $mt, config: $c, layers: [$l], subject: $s}
         + (if $at == "" then {} else {artifactType: $at} end)
         + (if $a == null then {} else {annotations: $a} end)' >"$1"
}
ANN='{"org.example.sbom.format":"json","org.opencontainers.image.created":"2024-01-02T03:04:05Z"}'
artifact "$T/r1.json" $SBOM "$EMPTY" "$(desc application/spdx+json "$T/sbom")" "$ANN"
artifact "$T/r2.json" $SIG "$EMPTY" "$(desc application/octet-stream "$T/sig")"

# put_referrer FILE: PUT by digest; 201 with OCI-Subject: <subject digest>
put_referrer() {
    local d
    d=$(sha256_of "$1")
    req PUT "/v2/$R/manifests/$d" -H "Content-Type: ${2:-$MT_OCI_MANIFEST}" --data-binary @"$1"
    expect_status 201 "PUT referrer $1"
    want_hdr OCI-Subject "$subj" "PUT referrer $1"
    want_hdr Docker-Content-Digest "$d" "PUT referrer $1"
}
put_referrer "$T/r1.json"
put_referrer "$T/r2.json"
ok "PUT of manifests with subject -> 201 with OCI-Subject: $subj"

# want_descriptor FILE ARTIFACT_TYPE|"" ANNOTATIONS_JSON|null: the referrers list in $BODY has
# exactly one descriptor for FILE with these fields
want_descriptor() {
    local d mt got
    d=$(sha256_of "$1")
    mt=$(jq -r .mediaType "$1")
    got=$(jq -c --arg d "$d" '[.manifests[] | select(.digest == $d)]' "$BODY")
    expect_eq "$(jq length <<<"$got")" 1 "descriptors for $1"
    expect_eq "$(jq -r '.[0].mediaType' <<<"$got")" "$mt" "mediaType of $1"
    expect_eq "$(jq -r '.[0].size' <<<"$got")" "$(fsize "$1")" "size of $1"
    if [ -n "$2" ]; then
        expect_eq "$(jq -r '.[0].artifactType' <<<"$got")" "$2" "artifactType of $1"
    else
        expect_eq "$(jq -r '.[0] | has("artifactType")' <<<"$got")" false "artifactType of $1 (must be omitted)"
    fi
    if [ "$3" != null ]; then
        expect_eq "$(jq -cS '.[0].annotations' <<<"$got")" "$(jq -cS . <<<"$3")" "annotations of $1"
    else
        expect_eq "$(jq -c '.[0].annotations // {}' <<<"$got")" "{}" "annotations of $1"
    fi
}

# want_index N: the last answer is a 200 image index with N descriptors
want_index() {
    expect_status 200 "${2:-referrers}"
    want_hdr Content-Type $MT_OCI_INDEX "${2:-referrers}"
    expect_eq "$(jq -r .schemaVersion "$BODY")" 2 "schemaVersion of the referrers index"
    expect_eq "$(jq -r .mediaType "$BODY")" $MT_OCI_INDEX "mediaType of the referrers index"
    expect_eq "$(jq -r '.manifests | length' "$BODY")" "$1" "${2:-referrers}: number of descriptors"
}

req GET "/v2/$R/referrers/$subj"
want_index 2
want_descriptor "$T/r1.json" $SBOM "$ANN"
want_descriptor "$T/r2.json" $SIG null
want_no_hdr OCI-Filters-Applied "unfiltered referrers"
ok "GET referrers -> 200 image index with both descriptors (mediaType, digest, size, artifactType, annotations)"

# filter
req GET "/v2/$R/referrers/$subj?artifactType=$SBOM"
want_index 1 "referrers filtered on $SBOM"
want_descriptor "$T/r1.json" $SBOM "$ANN"
want_hdr OCI-Filters-Applied artifactType "filtered referrers"
req GET "/v2/$R/referrers/$subj?artifactType=application%2Fvnd.example.signature.v1"
want_index 1 "referrers filtered on $SIG (escaped)"
want_descriptor "$T/r2.json" $SIG null
want_hdr OCI-Filters-Applied artifactType "filtered referrers (escaped)"
req GET "/v2/$R/referrers/$subj?artifactType=application/vnd.example.none"
want_index 0 "referrers filtered on a type nobody has"
want_hdr OCI-Filters-Applied artifactType "filter matching nothing"
ok "?artifactType= returns just the matching descriptor and sets OCI-Filters-Applied: artifactType"

# artifactType falls back to config.mediaType; an index without one has none
CFGT=application/vnd.example.config.v1+json
gen_text "$T/acfg" '{"tool":"x"}'
push_blob $R "$T/acfg" >/dev/null
artifact "$T/r3.json" "" "$(desc $CFGT "$T/acfg")" "$(desc application/octet-stream "$T/sig")"
put_referrer "$T/r3.json"
jq -cnj --arg mt $MT_OCI_INDEX --argjson s "$SUBJ" \
    '{schemaVersion: 2, mediaType: $mt, manifests: [], subject: $s, annotations: {"org.example.kind": "bundle"}}' >"$T/r4.json"
put_referrer "$T/r4.json" $MT_OCI_INDEX
req GET "/v2/$R/referrers/$subj"
want_index 4
want_descriptor "$T/r3.json" $CFGT null
want_descriptor "$T/r4.json" "" '{"org.example.kind":"bundle"}'
want_descriptor "$T/r1.json" $SBOM "$ANN"
req GET "/v2/$R/referrers/$subj?artifactType=${CFGT//+/%2B}" # a literal + in a query is a space
want_index 1 "filter on the config media type"
want_descriptor "$T/r3.json" $CFGT null
ok "artifactType falls back to config.mediaType; an index without artifactType has none"

# no referrers: an empty index (never 404), also for a repository that does not exist
other=$(sha256_of "$T/layer")
req GET "/v2/$R/referrers/$other"
want_index 0 "referrers of a digest with none"
req GET "/v2/$R/referrers/sha256:0000000000000000000000000000000000000000000000000000000000000000"
want_index 0 "referrers of an unknown digest"
req GET "/v2/lib/nosuchrepo/referrers/$subj"
want_index 0 "referrers in an unknown repository"
# referrers are per repository
push_blob lib/ref2 "$T/cfg" >/dev/null
push_blob lib/ref2 "$T/layer" >/dev/null
put_manifest lib/ref2 v1 "$T/img.json" $MT_OCI_MANIFEST >/dev/null
req GET "/v2/lib/ref2/referrers/$subj"
want_index 0 "the same subject in another repository"
ok "no referrers -> 200 with an empty manifests list"

# a referrer may arrive before its subject (the spec says MUST accept)
mk_image "$T/img2.json" $MT_OCI_MANIFEST "$(desc $MT_OCI_CONFIG "$T/cfg")"
subj2=$(sha256_of "$T/img2.json")
SUBJ_SAVE=$SUBJ
SUBJ=$(desc $MT_OCI_MANIFEST "$T/img2.json")
artifact "$T/early.json" $SBOM "$EMPTY" "$(desc application/spdx+json "$T/sbom")"
SUBJ=$SUBJ_SAVE
req PUT "/v2/$R/manifests/$(sha256_of "$T/early.json")" -H "Content-Type: $MT_OCI_MANIFEST" \
    --data-binary @"$T/early.json"
expect_status 201 "PUT of a referrer whose subject does not exist yet"
want_hdr OCI-Subject "$subj2" "PUT of a referrer whose subject does not exist yet"
want_no_manifest $R "$subj2"
req GET "/v2/$R/referrers/$subj2"
want_index 1 "referrers of a subject not pushed yet"
want_descriptor "$T/early.json" $SBOM null
put_manifest $R v2 "$T/img2.json" $MT_OCI_MANIFEST >/dev/null
req GET "/v2/$R/referrers/$subj2"
want_index 1 "referrers once the subject is pushed"
ok "a manifest whose subject does not exist yet is accepted and listed"

# invalid digests
for d in sha256:abc notadigest sha256:ZZZZ "sha256:${subj#sha256:}00" "sha256:$(printf 'A%.0s' $(seq 1 64))"; do
    req GET "/v2/$R/referrers/$d"
    expect_status 400 "referrers of invalid digest $d"
done
ok "invalid digest -> 400"

# deleting a referrer removes it from the list; the subject may go while referrers stay
req DELETE "/v2/$R/manifests/$(sha256_of "$T/r2.json")"
expect_status 202 "DELETE a referrer"
req GET "/v2/$R/referrers/$subj"
want_index 3 "referrers after deleting one"
expect_eq "$(jq --arg d "$(sha256_of "$T/r2.json")" '[.manifests[] | select(.digest == $d)] | length' "$BODY")" 0 \
    "deleted referrer still listed"
ok "a deleted referrer is no longer listed"

finish
