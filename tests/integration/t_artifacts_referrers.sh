#!/usr/bin/env bash
# Referrers: a signature and an SBOM attached to an image the way `oras attach` / `notation
# sign` push them (by digest, with "subject"), found through GET /v2/<name>/referrers/<digest>
# with and without the artifactType filter.
. "$(dirname "$0")/lib.sh"
. "$HERE/lib_ops.sh"
start_berth

REPO=mlops/retail-api
mkdir -p "$T/p"

# ---- the subject: a small image ----
mkdir -p "$T/rootfs/app"
printf 'print("hello")\n' >"$T/rootfs/app/main.py"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2024-05-01 00:00Z' \
    -C "$T/rootfs" -cf - app | gzip -n >"$T/p/layer.tar.gz"
jq -cn --arg diff "sha256:$(gzip -dc "$T/p/layer.tar.gz" | sha256sum | cut -d' ' -f1)" \
    '{architecture: "amd64", os: "linux", config: {Cmd: ["python3", "/app/main.py"]},
      rootfs: {type: "layers", diff_ids: [$diff]}}' >"$T/p/image-config.json"
client_push_blob "$REPO" "$T/p/image-config.json" >/dev/null
client_push_blob "$REPO" "$T/p/layer.tar.gz" >/dev/null
jq -cn \
    --argjson c "$(descriptor application/vnd.oci.image.config.v1+json "$T/p/image-config.json")" \
    --argjson l "$(descriptor application/vnd.oci.image.layer.v1.tar+gzip "$T/p/layer.tar.gz")" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: $c, layers: [$l]}' >"$T/p/image.json"
image=$(client_push_manifest "$REPO" v1 "$T/p/image.json" "$OCI_MANIFEST")
subject=$(descriptor "$OCI_MANIFEST" "$T/p/image.json")
ok "image pushed ($image)"

req GET "/v2/$REPO/referrers/$image"
expect_status 200 "referrers before any attach"
expect_hdr Content-Type "$OCI_INDEX" "referrers Content-Type"
expect_eq "$(jq -c '[.schemaVersion, .mediaType, .manifests]' "$BODY")" "[2,\"$OCI_INDEX\",[]]" \
    "empty referrers index"
ok "no referrers yet: an empty image index"

printf '{}' >"$T/p/empty.json"
client_push_blob "$REPO" "$T/p/empty.json" >/dev/null

# attach REF_FILE ARTIFACT_TYPE LAYER_MT LAYER_FILE SUBJECT_JSON ANNOTATIONS_JSON -> manifest file
attach() {
    local out=$1 at=$2 lmt=$3 lf=$4 subj=$5 ann=$6
    client_push_blob "$REPO" "$lf" >/dev/null
    jq -cn --arg at "$at" --arg ed "$EMPTY_CONFIG_DIGEST" \
        --argjson l "$(descriptor "$lmt" "$lf")" --argjson s "$subj" --argjson ann "$ann" \
        '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
          artifactType: $at,
          config: {mediaType: "application/vnd.oci.empty.v1+json", digest: $ed, size: 2},
          layers: [$l], subject: $s, annotations: $ann}' >"$out"
}

# ---- signature (notation style) ----
printf '{"payload":"eyJ0YXJnZXRBcnRpZmFjdCI6e319","protected":"eyJhbGciOiJQUzI1NiJ9","signature":"c2lnbmF0dXJl"}' \
    >"$T/p/sig.jws"
SIG_TYPE=application/vnd.cncf.notary.signature
attach "$T/p/sig.json" "$SIG_TYPE" application/jose+json "$T/p/sig.jws" "$subject" \
    '{"io.cncf.notary.x509chain.thumbprint#S256":"[\"0b4f...\"]","org.opencontainers.image.created":"2024-05-01T10:00:00Z"}'
sig=$(sha256_of "$T/p/sig.json")
req PUT "/v2/$REPO/manifests/$sig" --data-binary @"$T/p/sig.json" -H "Content-Type: $OCI_MANIFEST"
expect_status 201 "push signature by digest"
expect_hdr OCI-Subject "$image" "OCI-Subject of the signature push"
expect_hdr Docker-Content-Digest "$sig" "signature digest"
expect_hdr Location "/v2/$REPO/manifests/$sig" "signature Location"
ok "signature pushed by digest; the answer carries OCI-Subject: $image"

# ---- SBOM (oras attach --artifact-type application/spdx+json) ----
jq -cn '{spdxVersion: "SPDX-2.3", SPDXID: "SPDXRef-DOCUMENT", name: "retail-api",
         packages: [{name: "python3", versionInfo: "3.12.3"}]}' >"$T/p/sbom.spdx.json"
SBOM_TYPE=application/spdx+json
attach "$T/p/sbom.json" "$SBOM_TYPE" application/spdx+json "$T/p/sbom.spdx.json" "$subject" \
    '{"org.opencontainers.image.created":"2024-05-01T10:05:00Z"}'
sbom=$(sha256_of "$T/p/sbom.json")
req PUT "/v2/$REPO/manifests/$sbom" --data-binary @"$T/p/sbom.json" -H "Content-Type: $OCI_MANIFEST"
expect_status 201 "push SBOM by digest"
expect_hdr OCI-Subject "$image" "OCI-Subject of the SBOM push"
ok "SBOM pushed by digest with OCI-Subject"

# expected referrer descriptor of a manifest file
entry() {
    jq -c --arg d "$(sha256_of "$1")" --argjson s "$(size_of "$1")" \
        '{mediaType, digest: $d, size: $s, artifactType, annotations}' "$1"
}

req GET "/v2/$REPO/referrers/$image"
expect_status 200 "referrers"
expect_hdr Content-Type "$OCI_INDEX" "referrers Content-Type"
[ -z "$(hdr OCI-Filters-Applied)" ] || fail "OCI-Filters-Applied without a filter"
expect_eq "$(jq -c '.manifests | sort_by(.digest)' "$BODY")" \
    "$(jq -sc 'sort_by(.digest)' <(entry "$T/p/sig.json") <(entry "$T/p/sbom.json"))" \
    "referrers entries"
ok "referrers lists both, with mediaType, digest, size, artifactType and annotations"

req GET "/v2/$REPO/referrers/$image?artifactType=application%2Fspdx%2Bjson"
expect_status 200 "filtered referrers"
expect_hdr OCI-Filters-Applied artifactType "filter header"
expect_eq "$(jq -c '.manifests' "$BODY")" "[$(entry "$T/p/sbom.json")]" "filtered referrers"
req GET "/v2/$REPO/referrers/$image?artifactType=$SIG_TYPE"
expect_status 200 "filtered referrers (signature)"
expect_hdr OCI-Filters-Applied artifactType "filter header"
expect_eq "$(jq -r '[.manifests[].digest] | join(",")' "$BODY")" "$sig" "signature filter"
req GET "/v2/$REPO/referrers/$image?artifactType=application/vnd.example.none"
expect_status 200 "filter without match"
expect_hdr OCI-Filters-Applied artifactType "filter header without match"
expect_eq "$(jq -c '.manifests' "$BODY")" "[]" "filter without match"
ok "?artifactType= selects one (OCI-Filters-Applied: artifactType); an unknown type selects none"

# ---- no artifactType: the config mediaType stands in ----
printf '{"_type":"https://in-toto.io/Statement/v1"}' >"$T/p/att-config.json"
client_push_blob "$REPO" "$T/p/att-config.json" >/dev/null
jq -cn --argjson c "$(descriptor application/vnd.in-toto+json "$T/p/att-config.json")" \
    --argjson l "$(descriptor application/spdx+json "$T/p/sbom.spdx.json")" --argjson s "$subject" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: $c, layers: [$l], subject: $s}' >"$T/p/att.json"
att=$(sha256_of "$T/p/att.json")
req PUT "/v2/$REPO/manifests/$att" --data-binary @"$T/p/att.json" -H "Content-Type: $OCI_MANIFEST"
expect_status 201 "push attestation without artifactType"
expect_hdr OCI-Subject "$image" "OCI-Subject of the attestation"
req GET "/v2/$REPO/referrers/$image"
expect_status 200 "referrers with three"
expect_eq "$(jq -r --arg d "$att" '.manifests[] | select(.digest == $d) | .artifactType' "$BODY")" \
    application/vnd.in-toto+json "artifactType of a referrer without one"
expect_eq "$(jq '.manifests | length' "$BODY")" 3 "referrer count"
req GET "/v2/$REPO/referrers/$image?artifactType=application%2Fvnd.in-toto%2Bjson"
expect_status 200 "filter on the config type"
expect_eq "$(jq -r '[.manifests[].digest] | join(",")' "$BODY")" "$att" \
    "filter on a config-derived artifactType"
ok "a referrer without artifactType is listed (and filtered) under its config mediaType"

# ---- a signature of the SBOM: it refers to the SBOM, not to the image ----
attach "$T/p/sig2.json" "$SIG_TYPE" application/jose+json "$T/p/sig.jws" \
    "$(descriptor "$OCI_MANIFEST" "$T/p/sbom.json")" '{"org.opencontainers.image.created":"2024-05-01T10:06:00Z"}'
sig2=$(sha256_of "$T/p/sig2.json")
req PUT "/v2/$REPO/manifests/$sig2" --data-binary @"$T/p/sig2.json" -H "Content-Type: $OCI_MANIFEST"
expect_status 201 "sign the SBOM"
expect_hdr OCI-Subject "$sbom" "OCI-Subject of the SBOM signature"
req GET "/v2/$REPO/referrers/$sbom"
expect_eq "$(jq -r '[.manifests[].digest] | join(",")' "$BODY")" "$sig2" "referrers of the SBOM"
req GET "/v2/$REPO/referrers/$image"
expect_eq "$(jq '.manifests | length' "$BODY")" 3 "image referrers unchanged"
ok "a referrer of a referrer is listed under its own subject only"

# ---- pulled back byte-identical; no tags were created ----
pull_manifest_cmp "$REPO" "$sig" "$T/p/sig.json" "$OCI_MANIFEST"
pull_manifest_cmp "$REPO" "$sbom" "$T/p/sbom.json" "$OCI_MANIFEST"
pull_blob_cmp "$REPO" "$T/p/sig.jws"
pull_blob_cmp "$REPO" "$T/p/sbom.spdx.json"
req GET "/v2/$REPO/tags/list"
expect_eq "$(jq -c .tags "$BODY")" '["v1"]' "tags after attaching"
ok "referrers pull back byte-identical; pushing by digest created no tags"

# ---- a subject that is not (yet) in the registry is accepted ----
ghost="sha256:$(printf 'not pushed yet' | sha256sum | cut -d' ' -f1)"
attach "$T/p/early.json" "$SBOM_TYPE" application/spdx+json "$T/p/sbom.spdx.json" \
    "{\"mediaType\":\"$OCI_MANIFEST\",\"digest\":\"$ghost\",\"size\":123}" '{"k":"v"}'
early=$(sha256_of "$T/p/early.json")
req PUT "/v2/$REPO/manifests/$early" --data-binary @"$T/p/early.json" -H "Content-Type: $OCI_MANIFEST"
expect_status 201 "referrer of a missing subject"
expect_hdr OCI-Subject "$ghost" "OCI-Subject of a missing subject"
req GET "/v2/$REPO/referrers/$ghost"
expect_status 200 "referrers of a missing subject"
expect_eq "$(jq -r '[.manifests[].digest] | join(",")' "$BODY")" "$early" "referrers of a missing subject"
ok "a referrer may be pushed before its subject"

# ---- deleting a referrer removes it from the list ----
req DELETE "/v2/$REPO/manifests/$sig"
expect_status 202 "delete the signature"
req GET "/v2/$REPO/referrers/$image"
expect_status 200 "referrers after delete"
expect_eq "$(jq -r '[.manifests[].digest] | sort | join(",")' "$BODY")" \
    "$(printf '%s\n' "$sbom" "$att" | sort | paste -sd,)" "referrers after delete"
ok "a deleted referrer disappears from the list"

req GET "/v2/other/repo/referrers/$image"
expect_status 200 "referrers in an unknown repository"
expect_eq "$(jq -c .manifests "$BODY")" "[]" "referrers in an unknown repository"
req GET "/v2/$REPO/referrers/sha256:xyz"
expect_error 400 DIGEST_INVALID "referrers of an invalid digest"
ok "unknown repository: empty list; invalid digest: DIGEST_INVALID"

stop_berth
fsck_clean
ok "fsck is clean afterwards"
