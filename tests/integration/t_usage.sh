#!/usr/bin/env bash
# Storage accounting: two images sharing layers and an untagged one in team/app, one image in
# team/db sharing a layer and the config with team/app, an empty team/empty. Pulls through the
# OCI API (manifest GET, blob GET, a Range GET; HEADs and refused requests that must not
# count), BatchGetImage and a GetDownloadUrlForLayer download. Then `berth admin usage` (JSON
# and text) must show exactly the stored bytes computed here from the files, the image and
# untagged counts, pulls and bytes served, the cost at a given price, the registry's physical
# bytes and the deduplication saving; DescribeRepositories reports repositorySizeInBytes and
# still works through the AWS CLI v2 and boto3; the 30-day window follows the registry clock.
. "$(dirname "$0")/lib_ecr.sh"

# The registry clock (server and admin both read it): 2025-06-15 00:00:00 UTC, day 20254.
T0=1749945600
DAY=86400
export BERTH_TEST_CLOCK_FILE=$T/clock
echo "$T0" >"$BERTH_TEST_CLOCK_FILE"
start_ecr_berth

ecr_batch <<'EOF'
ok create_repository {"repositoryName": "team/app"}
ok create_repository {"repositoryName": "team/db"}
ok create_repository {"repositoryName": "team/empty"}
EOF
pw=$(must awsx ecr get-login-password)
AUTHH="Authorization: $(basic_auth "$pw")"

# areq METHOD PATH [curl options...]: req with the registry token.
areq() {
    local m=$1 p=$2
    shift 2
    req "$m" "$p" -H "$AUTHH" "$@"
}
# apush_blob REPO FILE: a monolithic upload (for a blob already in the registry it only
# links it); prints nothing.
apush_blob() {
    areq POST "/v2/$1/blobs/uploads/?digest=$(sha256_of "$2")" --data-binary @"$2" \
        -H 'Content-Type: application/octet-stream'
    expect_status 201 "push blob $2 to $1"
}
# apush_manifest REPO REF FILE: prints the digest.
apush_manifest() {
    areq PUT "/v2/$1/manifests/$2" --data-binary @"$3" -H "Content-Type: $MT_OCI_MANIFEST"
    expect_status 201 "push manifest $3 to $1:$2"
    hget Docker-Content-Digest
}

# ---- content: sizes are what the assertions below are computed from ----
gen_bytes "$T/L1" 40000 1 # the base layer both repositories use
gen_bytes "$T/L2" 3000 2
gen_bytes "$T/L3" 5000 3
gen_text "$T/C1" '{"architecture":"amd64","os":"linux","config":{"Env":["N=1"]}}'
gen_text "$T/C2" '{"architecture":"amd64","os":"linux","config":{"Env":["N=2"]}}'
c1=$(desc "$MT_OCI_CONFIG" "$T/C1")
c2=$(desc "$MT_OCI_CONFIG" "$T/C2")
l1=$(desc "$MT_OCI_LAYER" "$T/L1")
l2=$(desc "$MT_OCI_LAYER" "$T/L2")
l3=$(desc "$MT_OCI_LAYER" "$T/L3")
mk_image "$T/m1" "$MT_OCI_MANIFEST" "$c1" "$l1" "$l2" # team/app:v1
mk_image "$T/m2" "$MT_OCI_MANIFEST" "$c2" "$l1" "$l3" # team/app:v2
mk_image "$T/m3" "$MT_OCI_MANIFEST" "$c1" "$l3"       # team/app, untagged
mk_image "$T/m4" "$MT_OCI_MANIFEST" "$c1" "$l1"       # team/db:v1

for f in C1 C2 L1 L2 L3; do apush_blob team/app "$T/$f"; done
d1=$(apush_manifest team/app v1 "$T/m1")
d2=$(apush_manifest team/app v2 "$T/m2")
d3=$(apush_manifest team/app "$(sha256_of "$T/m3")" "$T/m3")
for f in C1 L1; do apush_blob team/db "$T/$f"; done
d4=$(apush_manifest team/db v1 "$T/m4")
expect_eq "$d3" "$(sha256_of "$T/m3")" "untagged push digest"

s() { fsize "$T/$1"; }
APP_STORED=$(($(s L1) + $(s L2) + $(s L3) + $(s C1) + $(s C2) + $(s m1) + $(s m2) + $(s m3)))
DB_STORED=$(($(s L1) + $(s C1) + $(s m4)))
PHYSICAL=$(($(s L1) + $(s L2) + $(s L3) + $(s C1) + $(s C2) + $(s m1) + $(s m2) + $(s m3) + $(s m4)))
SAVING=$(($(s L1) + $(s C1))) # stored twice in the bill, once on disk
ok "pushed: team/app stores $APP_STORED bytes (L1 shared by two images counts once), team/db $DB_STORED"

# ---- DescribeRepositories: repositorySizeInBytes (raw), and the clients still work ----
signed AmazonEC2ContainerRegistry_V20150921.DescribeRepositories '{}'
expect_status 200 "DescribeRepositories"
sizes=$(jq -c '[.repositories[] | [.repositoryName, .repositorySizeInBytes]] | sort' "$BODY")
expect_eq "$sizes" "[[\"team/app\",$APP_STORED],[\"team/db\",$DB_STORED],[\"team/empty\",0]]" \
    "repositorySizeInBytes of every repository"
signed AmazonEC2ContainerRegistry_V20150921.DescribeRepositories '{"repositoryNames":["team/db"]}'
expect_status 200 "DescribeRepositories by name"
expect_eq "$(jq -c '[.repositories[] | .repositorySizeInBytes]' "$BODY")" "[$DB_STORED]" \
    "repositorySizeInBytes by name"
expect_eq "$(ecr_repo_names)" "team/app team/db team/empty" "aws ecr describe-repositories (CLI v2)"
out=$(must awsx ecr describe-repositories --repository-names team/app)
expect_eq "$(jq -r '.repositories[0].repositoryUri' <<<"$out")" "$REG/team/app" "CLI v2 repositoryUri"
"$PY" - "$URL" "$ADMIN_KEY" "$ADMIN_SECRET" <<'EOF' || fail "boto3 describe_repositories"
import sys, boto3
url, k, s = sys.argv[1:]
ecr = boto3.client("ecr", endpoint_url=url, region_name="us-east-1", aws_access_key_id=k,
                   aws_secret_access_key=s)
r = ecr.describe_repositories()["repositories"]
assert sorted(x["repositoryName"] for x in r) == ["team/app", "team/db", "team/empty"], r
EOF
ok "DescribeRepositories: repositorySizeInBytes per repository; CLI v2 and boto3 unaffected"

# ---- traffic ----
APP_SERVED=0
areq GET /v2/team/app/manifests/v1 -H "Accept: $MT_OCI_MANIFEST"
expect_status 200 "pull team/app:v1"
cmp -s "$BODY" "$T/m1" || fail "team/app:v1 is not the pushed manifest"
APP_SERVED=$((APP_SERVED + $(s m1)))
areq GET "/v2/team/app/manifests/$d2" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200 "pull team/app by digest"
APP_SERVED=$((APP_SERVED + $(s m2)))
areq GET "/v2/team/app/blobs/$(sha256_of "$T/L1")"
expect_status 200 "GET blob L1"
cmp -s "$BODY" "$T/L1" || fail "GET blob L1: wrong bytes"
APP_SERVED=$((APP_SERVED + $(s L1)))
areq GET "/v2/team/app/blobs/$(sha256_of "$T/L2")" -H 'Range: bytes=100-1099'
expect_status 206 "Range GET of L2"
expect_eq "$(fsize "$BODY")" 1000 "Range GET length"
APP_SERVED=$((APP_SERVED + 1000))
# none of these serve anything
areq HEAD /v2/team/app/manifests/v1
expect_status 200 "HEAD manifest"
areq HEAD "/v2/team/app/blobs/$(sha256_of "$T/L3")"
expect_status 200 "HEAD blob"
areq GET "/v2/team/app/blobs/$(sha256_of "$T/L3")" -H 'Range: bytes=999999-'
expect_status 416 "unsatisfiable Range"
areq GET /v2/team/app/manifests/nope
expect_status 404 "unknown tag"
APP_PULLS=2

# BatchGetImage: each image returned is a pull; an unknown id or a refused media type is not
signed AmazonEC2ContainerRegistry_V20150921.BatchGetImage \
    '{"repositoryName":"team/db","imageIds":[{"imageTag":"v1"},{"imageTag":"nope"}]}'
expect_status 200 "BatchGetImage"
expect_eq "$(jq -c '[(.images | length), [.failures[].failureCode]]' "$BODY")" '[1,["ImageNotFound"]]' \
    "BatchGetImage result"
signed AmazonEC2ContainerRegistry_V20150921.BatchGetImage \
    "{\"repositoryName\":\"team/db\",\"imageIds\":[{\"imageTag\":\"v1\"}],\"acceptedMediaTypes\":[\"$MT_DOCKER_MANIFEST\"]}"
expect_status 200 "BatchGetImage, Docker media type only"
expect_eq "$(jq -c '[(.images | length), [.failures[].failureCode]]' "$BODY")" '[0,["ImageNotFound"]]' \
    "BatchGetImage of an OCI image with only Docker accepted"
DB_PULLS=1
DB_SERVED=$(s m4)
# a GetDownloadUrlForLayer download is a blob GET like any other
signed AmazonEC2ContainerRegistry_V20150921.GetDownloadUrlForLayer \
    "{\"repositoryName\":\"team/db\",\"layerDigest\":\"$(sha256_of "$T/L1")\"}"
expect_status 200 "GetDownloadUrlForLayer"
url=$(jq -r .downloadUrl "$BODY")
curl -s -o "$T/dl" "$url" || fail "download from $url"
cmp -s "$T/dl" "$T/L1" || fail "presigned download: wrong bytes"
DB_SERVED=$((DB_SERVED + $(s L1)))
ok "traffic: $APP_PULLS pulls / $APP_SERVED bytes on team/app, $DB_PULLS / $DB_SERVED on team/db"

# usage_json [admin options...]: `berth admin usage --format json` on the data directory.
usage_json() { must "$BERTH_BIN" admin usage --data-dir "$DATA" --format json "$@"; }

# check_usage JSON PRICE APP_PULLS APP_SERVED DB_PULLS DB_SERVED: every number of the report.
check_usage() {
    "$PY" - "$@" "$APP_STORED" "$DB_STORED" "$PHYSICAL" "$SAVING" <<'EOF' || fail "usage report: $1"
import json, sys
doc = json.loads(sys.argv[1])
price = float(sys.argv[2])
app_pulls, app_served, db_pulls, db_served, app_stored, db_stored, physical, saving = map(int, sys.argv[3:])
def cost(b):  # what Berth computes: GB-months at 2^30 bytes a GB
    return b / 1073741824.0 * price
want = [
    {"name": "team/app", "stored_bytes": app_stored, "images": 3, "untagged": 1,
     "pulls_30d": app_pulls, "served_bytes_30d": app_served, "usd_per_month": cost(app_stored)},
    {"name": "team/db", "stored_bytes": db_stored, "images": 1, "untagged": 0,
     "pulls_30d": db_pulls, "served_bytes_30d": db_served, "usd_per_month": cost(db_stored)},
    {"name": "team/empty", "stored_bytes": 0, "images": 0, "untagged": 0,
     "pulls_30d": 0, "served_bytes_30d": 0, "usd_per_month": 0.0},
]
assert doc["repositories"] == want, (doc["repositories"], want)
total = {"stored_bytes": app_stored + db_stored, "images": 4, "untagged": 1,
         "pulls_30d": app_pulls + db_pulls, "served_bytes_30d": app_served + db_served,
         "usd_per_month": cost(app_stored + db_stored)}
assert doc["total"] == total, (doc["total"], total)
reg = doc["registry"]
assert reg["physical_bytes"] == physical, (reg, physical)
assert reg["stored_bytes"] == app_stored + db_stored, reg
assert reg["dedup_saving_bytes"] == saving, (reg, saving)
assert reg["blob_bytes"] + reg["manifest_bytes"] == physical, reg
assert doc["storage_price_usd_per_gb_month"] == price, doc
assert doc["account"] == "000000000000", doc
EOF
}

# ---- the periodic flush: the counts reach the store while the server runs ----
# (polled: a flush may also have caught the traffic halfway, so wait for all of it)
want_total="[$((APP_PULLS + DB_PULLS)),$((APP_SERVED + DB_SERVED))]"
for _ in $(seq 1 60); do
    [ "$(usage_json | jq -c '[.total.pulls_30d, .total.served_bytes_30d]')" = "$want_total" ] && break
    sleep 1
done
check_usage "$(usage_json)" 0.10 "$APP_PULLS" "$APP_SERVED" "$DB_PULLS" "$DB_SERVED"
ok "the running server flushed its counts; admin usage --format json is exact"

# ---- shutdown flushes what the last interval counted ----
areq GET /v2/team/app/manifests/v2 -H "Accept: $MT_OCI_MANIFEST"
expect_status 200 "pull team/app:v2"
APP_PULLS=$((APP_PULLS + 1))
APP_SERVED=$((APP_SERVED + $(s m2)))
stop_berth
no_sanitizer_reports
j=$(usage_json --storage-price 2500)
check_usage "$j" 2500 "$APP_PULLS" "$APP_SERVED" "$DB_PULLS" "$DB_SERVED"
expect_eq "$(jq -c .window <<<"$j")" '{"from":"2025-05-17","to":"2025-06-15","days":30}' "window"
ok "stop flushes the last counts; cost at --storage-price 2500 exact"

# ---- the text form ----
txt=$(must "$BERTH_BIN" admin usage --data-dir "$DATA" --storage-price 2500)
usd() { "$PY" -c "import sys; print(format(int(sys.argv[1]) / 1073741824.0 * 2500, '.2f'))" "$1"; }
read -ra hdr_line <<<"$(sed -n 1p <<<"$txt")"
expect_eq "${hdr_line[*]}" "REPOSITORY STORED_BYTES IMAGES UNTAGGED PULLS_30D SERVED_BYTES_30D USD_PER_MONTH" "text header"
expect_eq "$(awk '$1 == "team/app"' <<<"$txt" | tr -s ' ')" \
    "team/app $APP_STORED 3 1 $APP_PULLS $APP_SERVED $(usd "$APP_STORED")" "text row team/app"
expect_eq "$(awk '$1 == "team/db"' <<<"$txt" | tr -s ' ')" \
    "team/db $DB_STORED 1 0 $DB_PULLS $DB_SERVED $(usd "$DB_STORED")" "text row team/db"
expect_eq "$(awk '$1 == "team/empty"' <<<"$txt" | tr -s ' ')" "team/empty 0 0 0 0 0 0.00" "text row team/empty"
expect_eq "$(awk '$1 == "TOTAL"' <<<"$txt" | tr -s ' ')" \
    "TOTAL $((APP_STORED + DB_STORED)) 4 1 $((APP_PULLS + DB_PULLS)) $((APP_SERVED + DB_SERVED)) $(usd $((APP_STORED + DB_STORED)))" \
    "text TOTAL row"
expect_eq "$(sed -n 2p <<<"$txt" | awk '{print $1}')" team/app "rows in name order"
grep -qF "registry: $PHYSICAL physical bytes (every blob once, every manifest); $((APP_STORED + DB_STORED)) bytes stored by all repositories of all accounts; deduplication saves $SAVING bytes" <<<"$txt" ||
    fail "text registry line: $txt"
# fixed width: every table line is as long as the header
w=$(sed -n 1p <<<"$txt" | wc -c)
for n in 2 3 4 5; do
    expect_eq "$(sed -n "${n}p" <<<"$txt" | wc -c)" "$w" "width of table line $n"
done
ok "text form: the same numbers, aligned columns, TOTAL row, registry line"

# ---- the window follows the registry clock ----
echo $((T0 + 29 * DAY + DAY - 1)) >"$BERTH_TEST_CLOCK_FILE" # the last second of day +29
check_usage "$(usage_json)" 0.10 "$APP_PULLS" "$APP_SERVED" "$DB_PULLS" "$DB_SERVED"
echo $((T0 + 30 * DAY)) >"$BERTH_TEST_CLOCK_FILE"
check_usage "$(usage_json)" 0.10 0 0 0 0
ok "pulls of day 0 count 29 days later and drop out of the window on day 30; stored bytes stay"

echo $((T0 + 31 * DAY)) >"$BERTH_TEST_CLOCK_FILE"
start_ecr_berth
pw=$(must awsx ecr get-login-password)
AUTHH="Authorization: $(basic_auth "$pw")"
areq GET /v2/team/db/manifests/v1 -H "Accept: $MT_OCI_MANIFEST"
expect_status 200 "pull team/db:v1 31 days later"
stop_berth
no_sanitizer_reports
j=$(usage_json)
check_usage "$j" 0.10 0 0 1 "$(s m4)"
expect_eq "$(jq -c .window <<<"$j")" '{"from":"2025-06-17","to":"2025-07-16","days":30}' "window 31 days later"
ok "31 days later only the new pull counts"

# ---- bad arguments ----
if "$BERTH_BIN" admin usage --data-dir "$DATA" --format xml >/dev/null 2>"$T/err"; then
    fail "--format xml accepted"
fi
grep -q 'format must be text or json' "$T/err" || fail "--format xml: $(cat "$T/err")"
if "$BERTH_BIN" admin usage --data-dir "$DATA" --storage-price cheap >/dev/null 2>"$T/err"; then
    fail "--storage-price cheap accepted"
fi
grep -q 'storage-price must be a non-negative number' "$T/err" || fail "--storage-price cheap: $(cat "$T/err")"
if "$BERTH_BIN" admin usage --data-dir "$DATA" --account 222222222222 >/dev/null 2>"$T/err"; then
    fail "usage of an unknown account succeeded"
fi
j=$(usage_json --account 000000000000)
expect_eq "$(jq '.repositories | length' <<<"$j")" 3 "--account of the default account"
ok "bad --format, bad --storage-price and an unknown --account are refused"

fsck_clean
ok "fsck clean"
