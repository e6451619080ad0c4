#!/usr/bin/env bash
# end-8a/end-8b and _catalog: lexical order, ?n= pages with a Link rel="next" that walks the whole
# list (the last page has none), ?last=, n=0, bad n, unknown repositories; the catalog the same
# way with nested names.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_api.sh"
start_berth
R=lib/tags

gen_text "$T/cfg" '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
push_blob $R "$T/cfg" >/dev/null
mk_image "$T/m.json" $MT_OCI_MANIFEST "$(desc $MT_OCI_CONFIG "$T/cfg")"
# pushed out of order; lexical order is the expected answer. Lower case letters and digits where
# they differ, so byte order and the spec's "case-insensitive alphanumeric" wording agree.
ALL=(alpha beta delta epsilon gamma v1.0 v1.10 v1.2 v2 zulu)
for t in v1.2 gamma zulu alpha v1.10 epsilon beta v2 delta v1.0; do
    put_manifest $R "$t" "$T/m.json" $MT_OCI_MANIFEST >/dev/null
done
want=$(printf '%s\n' "${ALL[@]}" | LC_ALL=C sort | paste -sd, -)
expect_eq "$want" "$(IFS=,; echo "${ALL[*]}")" "test setup: ALL is in byte order"

req GET "/v2/$R/tags/list"
expect_status 200 "tags/list"
want_hdr Content-Type application/json "tags/list"
expect_eq "$(jq -r .name "$BODY")" "$R" "tags/list name"
expect_eq "$(jq -r '.tags | join(",")' "$BODY")" "$want" "tags/list order"
want_no_hdr Link "tags/list without n"
ok "tags/list: all ${#ALL[@]} tags in lexical order, no Link"

# pages of 2
req GET "/v2/$R/tags/list?n=2"
expect_status 200 "tags/list?n=2"
expect_eq "$(jq -r '.tags | join(",")' "$BODY")" "alpha,beta" "first page"
want_hdr Link "</v2/$R/tags/list?last=beta&n=2>; rel=\"next\"" "first page"
ok "?n=2 -> 2 tags and Link: </v2/$R/tags/list?last=beta&n=2>; rel=\"next\""

# walk_pages START_PATH: follows Link rel="next" to the end; prints the items joined with
# commas. JQ_ITEMS says which array to read. Fails if a page is empty, oversized or loops.
walk_pages() {
    local path=$1 got='' pages=0 link n
    while :; do
        req GET "$path"
        expect_status 200 "page $path"
        n=$(jq -r "$JQ_ITEMS | length" "$BODY")
        [ "$n" -ge 1 ] && [ "$n" -le "$PAGE" ] || fail "page $path has $n items (page size $PAGE)"
        got=${got:+$got,}$(jq -r "$JQ_ITEMS | join(\",\")" "$BODY")
        pages=$((pages + 1))
        [ $pages -le 50 ] || fail "more than 50 pages: the Link header loops"
        link=$(hget Link)
        [ -n "$link" ] || break
        [[ "$link" =~ ^\<([^>]*)\>\;\ rel=\"next\"$ ]] || fail "page $path: malformed Link '$link'"
        path=${BASH_REMATCH[1]}
    done
    printf '%s' "$got"
}

JQ_ITEMS=.tags
for PAGE in 1 2 3 4 9 10; do
    got=$(walk_pages "/v2/$R/tags/list?n=$PAGE")
    expect_eq "$got" "$want" "all tags walked in pages of $PAGE"
done
req GET "/v2/$R/tags/list?n=5&last=${ALL[4]}"
expect_status 200 "last page"
expect_eq "$(jq -r '.tags | join(",")' "$BODY")" "$(IFS=,; echo "${ALL[*]:5}")" "last page"
want_no_hdr Link "last page"
req GET "/v2/$R/tags/list?n=10"
want_no_hdr Link "a page holding everything"
req GET "/v2/$R/tags/list?n=11"
want_no_hdr Link "a page larger than everything"
expect_eq "$(jq -r '.tags | length' "$BODY")" 10 "n larger than the tag count"
ok "following Link walks every tag once, for page sizes 1..10; the last page has no Link"

# last= alone and with n
req GET "/v2/$R/tags/list?last=delta"
expect_status 200 "last=delta"
expect_eq "$(jq -r '.tags | join(",")' "$BODY")" "epsilon,gamma,v1.0,v1.10,v1.2,v2,zulu" "last=delta"
req GET "/v2/$R/tags/list?last=delta&n=2"
expect_eq "$(jq -r '.tags | join(",")' "$BODY")" "epsilon,gamma" "last=delta&n=2"
want_hdr Link "</v2/$R/tags/list?last=gamma&n=2>; rel=\"next\"" "last=delta&n=2"
req GET "/v2/$R/tags/list?last=c"
expect_eq "$(jq -r '.tags | join(",")' "$BODY")" "delta,epsilon,gamma,v1.0,v1.10,v1.2,v2,zulu" "last= a value that is not a tag"
req GET "/v2/$R/tags/list?last=zulu"
expect_status 200 "last= the last tag"
expect_eq "$(jq -r '.tags | length' "$BODY")" 0 "last= the last tag"
ok "?last= starts after the given tag (with or without n)"

# n=0: an empty list and no Link
req GET "/v2/$R/tags/list?n=0"
expect_status 200 "n=0"
expect_eq "$(jq -r '.tags | length' "$BODY")" 0 "n=0"
want_no_hdr Link "n=0"
ok "?n=0 -> empty list, no Link"

for n in abc -1 1.5 2x; do
    req GET "/v2/$R/tags/list?n=$n"
    expect_status 400 "n=$n"
done
ok "?n=abc (and -1, 1.5, 2x) -> 400"

req GET /v2/lib/nosuchrepo/tags/list
want_error 404 NAME_UNKNOWN "tags/list of an unknown repository"
ok "tags/list of an unknown repository -> 404 NAME_UNKNOWN"

# a repository without tags
push_blob lib/untagged "$T/cfg" >/dev/null
req PUT "/v2/lib/untagged/manifests/$(sha256_of "$T/m.json")" -H "Content-Type: $MT_OCI_MANIFEST" \
    --data-binary @"$T/m.json"
expect_status 201 "untagged push"
req GET /v2/lib/untagged/tags/list
expect_status 200 "tags/list of a repository without tags"
expect_eq "$(jq -r '.tags // [] | length' "$BODY")" 0 "tags of a repository without tags"
ok "a repository without tags lists none"

# --- catalog
gen_text "$T/x" x
REPOS=(alpha lib/tags lib/untagged lib-x nested/a/b/c nested/a/b/c/d nested/z x.y/z zeta z_z)
for r in zeta nested/a/b/c/d alpha lib-x nested/z x.y/z z_z nested/a/b/c; do
    push_blob "$r" "$T/x" >/dev/null
done
cwant=$(printf '%s\n' "${REPOS[@]}" | LC_ALL=C sort | paste -sd, -)
expect_eq "$(catalog)" "$cwant" "catalog"
req GET /v2/_catalog
want_no_hdr Link "catalog without n"
ok "_catalog lists every repository, nested names included, in lexical order"

req GET "/v2/_catalog?n=2"
expect_status 200 "catalog?n=2"
first2=$(printf '%s\n' "${REPOS[@]}" | LC_ALL=C sort | head -n 2 | paste -sd, -)
expect_eq "$(jq -r '.repositories | join(",")' "$BODY")" "$first2" "catalog first page"
want_hdr Link "</v2/_catalog?last=${first2#*,}&n=2>; rel=\"next\"" "catalog first page"
JQ_ITEMS=.repositories
for PAGE in 1 2 3 4 10; do
    expect_eq "$(walk_pages "/v2/_catalog?n=$PAGE")" "$cwant" "catalog walked in pages of $PAGE"
done
req GET "/v2/_catalog?last=nested/a/b/c&n=2"
expect_eq "$(jq -r '.repositories | join(",")' "$BODY")" "nested/a/b/c/d,nested/z" "catalog last=nested/a/b/c"
want_hdr Link "</v2/_catalog?last=nested/z&n=2>; rel=\"next\"" "catalog last=nested/a/b/c"
req GET "/v2/_catalog?n=0"
expect_status 200 "catalog n=0"
expect_eq "$(jq -r '.repositories | length' "$BODY")" 0 "catalog n=0"
want_no_hdr Link "catalog n=0"
req GET "/v2/_catalog?n=abc"
expect_status 400 "catalog n=abc"
ok "_catalog pages with n/last/Link the same way"

# The list bodies are written without a JSON value per name; a name that needs escaping (none
# can be pushed: the grammars exclude them, so it is put into the store directly) still comes
# out as valid JSON, and one that is not UTF-8 is left out rather than breaking the body.
odd=$(printf 'we"ird\\tag\t')
python3 - "$DATA/meta.db" "$R" "$odd" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
rid, digest = db.execute("SELECT t.repo_id, t.digest FROM tags t JOIN repositories r "
                         "ON r.id = t.repo_id WHERE r.name = ? LIMIT 1", (sys.argv[2],)).fetchone()
for name in (sys.argv[3], b"bad\xff"):
    db.execute("INSERT INTO tags(repo_id, name, digest, updated_at) VALUES (?, ?, ?, 0)",
               (rid, name, digest))
db.commit()
PY
req GET "/v2/$R/tags/list"
expect_status 200 "tags/list with odd names"
jq -e --arg w "$odd" '.tags | index($w) != null' "$BODY" >/dev/null ||
    fail "the escaped tag is missing or the body is not JSON: $(cat "$BODY")"
expect_eq "$(jq -r '.tags | length' "$BODY")" "$((${#ALL[@]} + 1))" "tags/list with odd names"
ok "tags/list escapes a name that needs it and leaves out one that is not UTF-8"

finish
