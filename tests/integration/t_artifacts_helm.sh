#!/usr/bin/env bash
# A Helm chart pushed the way `helm push mychart-0.1.0.tgz oci://REG/charts` does it: config
# = Chart.yaml metadata as JSON (application/vnd.cncf.helm.config.v1+json), one layer = the
# chart archive (application/vnd.cncf.helm.chart.content.v1.tar+gzip), tag = chart version.
# Pulled back like `helm pull`: manifest, config and archive byte-identical; the archive
# still unpacks to the same chart.
. "$(dirname "$0")/lib.sh"
. "$HERE/lib_ops.sh"
start_berth

REPO=charts/mychart
CONFIG_MT=application/vnd.cncf.helm.config.v1+json
CHART_MT=application/vnd.cncf.helm.chart.content.v1.tar+gzip

# a real chart directory, packaged as helm package does (mychart/ at the archive root)
src=$T/src/mychart
mkdir -p "$src/templates"
cat >"$src/Chart.yaml" <<'EOF'
apiVersion: v2
name: mychart
description: A Helm chart for the retail API
type: application
version: 0.1.0
appVersion: "1.16.0"
EOF
cat >"$src/values.yaml" <<'EOF'
replicaCount: 2
image:
  repository: 127.0.0.1:5000/mlops/retail-api
  tag: v1
  pullPolicy: IfNotPresent
service:
  type: ClusterIP
  port: 8080
EOF
cat >"$src/templates/deployment.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-mychart
spec:
  replicas: {{ .Values.replicaCount }}
  template:
    spec:
      containers:
        - name: api
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          ports:
            - containerPort: {{ .Values.service.port }}
EOF
cat >"$src/templates/service.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-mychart
spec:
  type: {{ .Values.service.type }}
  ports:
    - port: {{ .Values.service.port }}
EOF
printf '{{- define "mychart.name" -}}mychart{{- end }}\n' >"$src/templates/_helpers.tpl"
mkdir -p "$T/push"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2024-05-01 00:00Z' \
    -C "$T/src" -cf - mychart | gzip -n -9 >"$T/push/mychart-0.1.0.tgz"
# list to a file first: with pipefail, grep -q exiting early could SIGPIPE tar and fail the test
tar -tzf "$T/push/mychart-0.1.0.tgz" >"$T/chart.list"
grep -qx 'mychart/Chart.yaml' "$T/chart.list" || fail "chart archive layout"

# config: the Chart.yaml metadata as JSON, in helm's field order
jq -cn '{name: "mychart", version: "0.1.0", description: "A Helm chart for the retail API",
         apiVersion: "v2", appVersion: "1.16.0", type: "application"}' |
    tr -d '\n' >"$T/push/config.json"

client_push_blob "$REPO" "$T/push/config.json" >/dev/null
client_push_blob "$REPO" "$T/push/mychart-0.1.0.tgz" >/dev/null
# helm's manifest has no mediaType field: the Content-Type header names it
jq -cn \
    --argjson c "$(descriptor "$CONFIG_MT" "$T/push/config.json")" \
    --argjson l "$(descriptor "$CHART_MT" "$T/push/mychart-0.1.0.tgz")" \
    '{schemaVersion: 2, config: $c, layers: [$l],
      annotations: {"org.opencontainers.image.created": "2024-05-01T00:00:00Z",
                    "org.opencontainers.image.description": "A Helm chart for the retail API",
                    "org.opencontainers.image.title": "mychart",
                    "org.opencontainers.image.version": "0.1.0"}}' |
    tr -d '\n' >"$T/push/manifest.json"
mdigest=$(client_push_manifest "$REPO" 0.1.0 "$T/push/manifest.json" "$OCI_MANIFEST")
ok "chart mychart 0.1.0 pushed to $REPO:0.1.0 ($mdigest)"

# helm pull: manifest by tag (helm asks for the OCI manifest type only), then config and chart
req GET "/v2/$REPO/manifests/0.1.0" -H "Accept: $OCI_MANIFEST"
expect_status 200 "helm pull: manifest"
cmp -s "$BODY" "$T/push/manifest.json" || fail "chart manifest differs after pull"
expect_hdr Content-Type "$OCI_MANIFEST" "chart manifest Content-Type"
expect_hdr Docker-Content-Digest "$mdigest" "chart manifest digest"
pull_manifest_cmp "$REPO" "$mdigest" "$T/push/manifest.json" "$OCI_MANIFEST"
cfg=$(jq -r '.config.digest' "$T/push/manifest.json")
layer=$(jq -r --arg mt "$CHART_MT" '.layers[] | select(.mediaType == $mt) | .digest' \
    "$T/push/manifest.json")
expect_eq "$cfg" "$(sha256_of "$T/push/config.json")" "config digest in the manifest"
expect_eq "$layer" "$(sha256_of "$T/push/mychart-0.1.0.tgz")" "chart digest in the manifest"
pull_blob_cmp "$REPO" "$T/push/config.json"
pull_blob_cmp "$REPO" "$T/push/mychart-0.1.0.tgz"
cp "$BODY" "$T/pulled.tgz"
ok "manifest, config and chart archive pulled back byte-identical"

mkdir -p "$T/out"
tar -xzf "$T/pulled.tgz" -C "$T/out"
diff -r "$src" "$T/out/mychart" >/dev/null || fail "unpacked chart differs from the source"
expect_eq "$(jq -r .version "$T/push/config.json")" \
    "$(sed -n 's/^version: //p' "$T/out/mychart/Chart.yaml")" "chart version in config and Chart.yaml"
ok "the pulled archive unpacks to the same chart"

# a second chart version, and tags/list as `helm` lists versions
sed -i 's/^version: 0.1.0/version: 0.2.0/' "$src/Chart.yaml"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2024-06-01 00:00Z' \
    -C "$T/src" -cf - mychart | gzip -n -9 >"$T/push/mychart-0.2.0.tgz"
jq -c '.version = "0.2.0"' "$T/push/config.json" | tr -d '\n' >"$T/push/config2.json"
client_push_blob "$REPO" "$T/push/config2.json" >/dev/null
client_push_blob "$REPO" "$T/push/mychart-0.2.0.tgz" >/dev/null
jq -cn \
    --argjson c "$(descriptor "$CONFIG_MT" "$T/push/config2.json")" \
    --argjson l "$(descriptor "$CHART_MT" "$T/push/mychart-0.2.0.tgz")" \
    '{schemaVersion: 2, config: $c, layers: [$l],
      annotations: {"org.opencontainers.image.title": "mychart",
                    "org.opencontainers.image.version": "0.2.0"}}' |
    tr -d '\n' >"$T/push/manifest2.json"
client_push_manifest "$REPO" 0.2.0 "$T/push/manifest2.json" "$OCI_MANIFEST" >/dev/null
req GET "/v2/$REPO/tags/list"
expect_status 200 "tags/list"
expect_eq "$(jq -c . "$BODY")" '{"name":"charts/mychart","tags":["0.1.0","0.2.0"]}' "tags/list"
pull_manifest_cmp "$REPO" 0.1.0 "$T/push/manifest.json" "$OCI_MANIFEST"
ok "tags/list shows 0.1.0 and 0.2.0; 0.1.0 is unchanged"

stop_berth
fsck_clean
ok "fsck is clean afterwards"
