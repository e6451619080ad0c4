#!/usr/bin/env bash
# Multi-arch and referrers: a policy judges an index, not its children; expiring an index
# takes the children nothing else lists (and only untagged ones), and an expired manifest
# takes its referrers (signatures, SBOMs, and their own referrers) with it. The other index,
# a shared child, a tagged child and the surviving image's referrer stay and still pull.
. "$(dirname "$0")/lib_lifecycle.sh"
start_lc_berth

ago() { echo $(($1 * DAY)); }
spec=$(jq -cn --argjson d "$DAY" '[
  {name: "C1", ago: (10 * $d)},
  {name: "C2", ago: (10 * $d)},
  {name: "C3", ago: (10 * $d), tags: ["c3"]},
  {name: "I1", ago: (9 * $d), tags: ["release-1"], index: ["C1", "C2", "C3"]},
  {name: "I2", ago: (1 * $d), tags: ["release-2"], index: ["C2"]},
  {name: "S1", ago: (8 * $d), subject: "I1", artifactType: "application/vnd.example.signature"},
  {name: "S2", ago: (8 * $d), subject: "S1", artifactType: "application/vnd.example.signature"},
  {name: "X", ago: (1 * $d), subject: "I2", artifactType: "application/spdx+json"}
]')
scenario casc "$spec"
expect_eq "$(remaining casc)" C1,C2,C3,I1,I2,S1,S2,X "before the run"

# Rule 2 would expire every untagged image older than a day if children and referrers were
# judged on their own; they are not: they follow their index or subject.
put_policy casc '{"rules":[
  {"rulePriority":1,"description":"keep the newest release","selection":{"tagStatus":"tagged","tagPatternList":["release-*"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
  {"rulePriority":2,"description":"untagged older than a day","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}}]}'

lc_run --repository casc
expect_eq "$(grep -c '^expired' "$T/lc.out")" 1 "images the policy expired"
line=$(grep '^expired' "$T/lc.out")
[[ "$line" == "expired 000000000000/casc@$(digest_of casc I1) rule 1 tags [release-1] with "* ]] ||
    fail "run report: $line"
with=$(sed 's/.* with //' <<<"$line" | tr ',' ' ')
# shellcheck disable=SC2086
expect_eq "$(names casc $with)" C1,S1,S2 "manifests deleted with the index"
grep -q "1 images expired (4 manifests deleted)" "$T/lc.out" || fail "summary: $(cat "$T/lc.out")"
expect_eq "$(remaining casc)" C2,C3,I2,X "after the run"
ok "expiring an index takes its orphaned untagged child and its referrers (recursively)"

# What stays still works: the index, its shared child, the tagged child, the referrer.
for n in I2 C2 C3 X; do
    req GET "/v2/casc/manifests/$(digest_of casc "$n")" -H "Authorization: $AUTHZ" \
        -H "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"
    expect_status 200 "GET $n"
done
req GET "/v2/casc/referrers/$(digest_of casc I2)" -H "Authorization: $AUTHZ"
expect_status 200 "referrers of I2"
expect_eq "$(jq -r '.manifests[].digest' "$BODY")" "$(digest_of casc X)" "referrers of I2"
req GET /v2/casc/manifests/release-1 -H "Authorization: $AUTHZ" -H "Accept: application/vnd.oci.image.index.v1+json"
expect_status 404 "the expired tag"
ok "the surviving index, shared and tagged children and referrer still pull"

# A second run: C3 is no longer listed by any index, so the policy judges it now; it matches
# no rule (tagged c3, not release-*), so it stays.
lc_run --repository casc
grep -q "0 images expired" "$T/lc.out" || fail "second run: $(cat "$T/lc.out")"
expect_eq "$(remaining casc)" C2,C3,I2,X "after a second run"
ok "a second run keeps the freed tagged child"

stop_berth
ev=$(db_scalar "SELECT group_concat(digest || ':' || coalesce(json_extract(detail, '\$.relation'), 'rule ' || json_extract(detail, '\$.rulePriority')), ' ') FROM (SELECT * FROM events WHERE repository = 'casc' ORDER BY id)")
want="$(digest_of casc I1):rule 1 $(digest_of casc S1):referrer $(digest_of casc C1):child $(digest_of casc S2):referrer"
expect_eq "$ev" "$want" "events of the cascade"
ok "the event log records the image and each manifest that went with it"
no_sanitizer_reports
fsck_clean
