#!/usr/bin/env bash
# Non-image artifacts with media types the registry has never heard of are stored and served
# unvalidated: an OPA policy bundle (tar+gzip of .rego + data.json), a Terraform-module-like
# artifact with a custom artifactType, and a config-typed artifact in the older oras style.
. "$(dirname "$0")/lib.sh"
. "$HERE/lib_ops.sh"
start_berth

mkdir -p "$T/opa/bundle/retail" "$T/push"
# ---- OPA bundle ----
cat >"$T/opa/bundle/retail/authz.rego" <<'EOF'
package retail.authz

import rego.v1

default allow := false

allow if {
	input.method == "GET"
	input.user in data.retail.readers
}
EOF
printf '{"retail":{"readers":["alice","bob"]}}\n' >"$T/opa/bundle/data.json"
printf '{"revision":"7d1c2e","roots":["retail"]}\n' >"$T/opa/bundle/.manifest"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2024-05-01 00:00Z' \
    -C "$T/opa/bundle" -cf - .manifest data.json retail | gzip -n >"$T/push/bundle.tar.gz"
printf '{"type":"opa-bundle","revision":"7d1c2e"}' >"$T/push/opa-config.json"

REPO=policy/retail-authz
client_push_blob "$REPO" "$T/push/opa-config.json" >/dev/null
client_push_blob "$REPO" "$T/push/bundle.tar.gz" >/dev/null
jq -cn \
    --argjson c "$(descriptor application/vnd.oci.image.config.v1+json "$T/push/opa-config.json")" \
    --argjson l "$(descriptor application/vnd.oci.image.layer.v1.tar+gzip "$T/push/bundle.tar.gz" bundle.tar.gz)" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: $c, layers: [$l]}' >"$T/push/opa-manifest.json"
client_push_manifest "$REPO" 7d1c2e "$T/push/opa-manifest.json" "$OCI_MANIFEST" >/dev/null
pull_manifest_cmp "$REPO" 7d1c2e "$T/push/opa-manifest.json" "$OCI_MANIFEST"
pull_blob_cmp "$REPO" "$T/push/opa-config.json"
pull_blob_cmp "$REPO" "$T/push/bundle.tar.gz"
mkdir -p "$T/opa/out"
tar -xzf "$BODY" -C "$T/opa/out"
diff -r "$T/opa/bundle" "$T/opa/out" >/dev/null || fail "OPA bundle differs after unpacking"
ok "OPA bundle pushed and pulled back byte-identical; it unpacks to the same policy"

# ---- Terraform-module-like artifact with a custom artifactType and custom layer types ----
mkdir -p "$T/tf/vpc"
cat >"$T/tf/vpc/main.tf" <<'EOF'
variable "cidr" {
  type    = string
  default = "10.0.0.0/16"
}

resource "aws_vpc" "this" {
  cidr_block = var.cidr
}

output "vpc_id" {
  value = aws_vpc.this.id
}
EOF
printf '# vpc\n\nA minimal VPC module.\n' >"$T/tf/vpc/README.md"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2024-05-01 00:00Z' \
    -C "$T/tf" -cf - vpc | gzip -n >"$T/push/vpc.tar.gz"
printf '{"source":"registry.example/modules/vpc","version":"1.2.3"}' >"$T/push/tf-meta.json"
printf '{}' >"$T/push/empty.json"

REPO2=modules/network/vpc
TF_TYPE='application/vnd.terraform.module.v1+tar+gzip'
for f in empty.json vpc.tar.gz tf-meta.json; do client_push_blob "$REPO2" "$T/push/$f" >/dev/null; done
jq -cn --arg at "$TF_TYPE" \
    --argjson l1 "$(descriptor application/vnd.terraform.module.layer.v1.tar+gzip "$T/push/vpc.tar.gz" vpc.tar.gz)" \
    --argjson l2 "$(descriptor 'application/vnd.example.meta+json; charset=utf-8' "$T/push/tf-meta.json")" \
    --arg ed "$EMPTY_CONFIG_DIGEST" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      artifactType: $at,
      config: {mediaType: "application/vnd.oci.empty.v1+json", digest: $ed, size: 2},
      layers: [$l1, $l2],
      annotations: {"com.example.module.provider": "aws", "org.opencontainers.image.version": "1.2.3"}}' \
    >"$T/push/tf-manifest.json"
client_push_manifest "$REPO2" 1.2.3 "$T/push/tf-manifest.json" "$OCI_MANIFEST" >/dev/null
pull_manifest_cmp "$REPO2" 1.2.3 "$T/push/tf-manifest.json" "$OCI_MANIFEST"
expect_eq "$(jq -r .artifactType "$BODY")" "$TF_TYPE" "artifactType survives"
pull_blob_cmp "$REPO2" "$T/push/vpc.tar.gz"
pull_blob_cmp "$REPO2" "$T/push/tf-meta.json"
pull_blob_cmp "$REPO2" "$T/push/empty.json"
ok "Terraform-like module with custom artifactType and layer types (one with parameters) round-trips"

# ---- older oras style: no artifactType, the config mediaType names the artifact ----
head -c 70000 /dev/urandom >"$T/push/firmware.bin"
printf '{"board":"rev-c"}' >"$T/push/fw-config.json"
REPO3=edge/firmware
client_push_blob "$REPO3" "$T/push/fw-config.json" >/dev/null
client_push_blob "$REPO3" "$T/push/firmware.bin" >/dev/null
jq -cn \
    --argjson c "$(descriptor application/vnd.example.firmware.config.v1+json "$T/push/fw-config.json")" \
    --argjson l "$(descriptor application/octet-stream "$T/push/firmware.bin" firmware.bin)" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: $c, layers: [$l]}' >"$T/push/fw-manifest.json"
client_push_manifest "$REPO3" rev-c "$T/push/fw-manifest.json" "$OCI_MANIFEST" >/dev/null
pull_manifest_cmp "$REPO3" rev-c "$T/push/fw-manifest.json" "$OCI_MANIFEST"
pull_blob_cmp "$REPO3" "$T/push/firmware.bin"
ok "config-typed artifact (no artifactType) round-trips"

# ---- an index of artifacts (oras can push one too): any artifactType on its entries ----
jq -cn \
    --argjson a "$(descriptor "$OCI_MANIFEST" "$T/push/fw-manifest.json")" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
      artifactType: "application/vnd.example.firmware.set.v1",
      manifests: [$a + {artifactType: "application/vnd.example.firmware.config.v1+json"}]}' \
    >"$T/push/fw-index.json"
client_push_manifest "$REPO3" set "$T/push/fw-index.json" "$OCI_INDEX" >/dev/null
pull_manifest_cmp "$REPO3" set "$T/push/fw-index.json" "$OCI_INDEX"
ok "an index with a custom artifactType round-trips"

# manifests reference only content the repository has: a layer pushed elsewhere is not enough
jq -c '.layers[0].digest = "'"$(sha256_of "$T/push/bundle.tar.gz")"'"' "$T/push/fw-manifest.json" \
    >"$T/push/bad.json"
req PUT "/v2/$REPO3/manifests/bad" --data-binary @"$T/push/bad.json" -H "Content-Type: $OCI_MANIFEST"
expect_error 400 MANIFEST_BLOB_UNKNOWN "manifest naming a blob of another repository"
ok "a manifest naming a blob of another repository is refused (MANIFEST_BLOB_UNKNOWN)"

req GET "/v2/_catalog"
expect_status 200 "catalog"
expect_eq "$(jq -r '.repositories | join(",")' "$BODY")" \
    "edge/firmware,modules/network/vpc,policy/retail-authz" "catalog"
ok "catalog lists the three artifact repositories"

stop_berth
fsck_clean
ok "fsck is clean afterwards"
