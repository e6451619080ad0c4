# Helpers for the API and hostile-input tests (t_api_*.sh, t_bad_*.sh). Source after lib.sh.
# Everything here builds on req/STATUS/$HDRS/$BODY from lib.sh and only talks to 127.0.0.1.

# shellcheck disable=SC2034 # the constants are for the test files that source this
MT_OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_OCI_INDEX=application/vnd.oci.image.index.v1+json
MT_OCI_CONFIG=application/vnd.oci.image.config.v1+json
MT_OCI_LAYER=application/vnd.oci.image.layer.v1.tar+gzip
MT_OCI_EMPTY=application/vnd.oci.empty.v1+json
MT_DOCKER_MANIFEST=application/vnd.docker.distribution.manifest.v2+json
MT_DOCKER_LIST=application/vnd.docker.distribution.manifest.list.v2+json
MT_DOCKER_CONFIG=application/vnd.docker.container.image.v1+json
MT_DOCKER_LAYER=application/vnd.docker.image.rootfs.diff.tar.gzip

# shellcheck disable=SC2034
# The error codes the distribution spec allows in an error body ("The code field MUST be one
# of the following").
SPEC_ERROR_CODES="BLOB_UNKNOWN BLOB_UPLOAD_INVALID BLOB_UPLOAD_UNKNOWN DIGEST_INVALID
MANIFEST_BLOB_UNKNOWN MANIFEST_INVALID MANIFEST_UNKNOWN NAME_INVALID NAME_UNKNOWN SIZE_INVALID
UNAUTHORIZED DENIED UNSUPPORTED TOOMANYREQUESTS"

# The interpreter itself, resolved once: version-manager shims cost half a second a call.
PY=$(python3 -c 'import sys; print(sys.executable)')

# _hscan NAME: sets _HFOUND (0/1) and _HVAL (the last value) for a header of the last response.
# Pure bash: a bare grep would end the test under set -e when the header is missing.
_hscan() {
    local line name want=${1,,}
    _HFOUND=0
    _HVAL=
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line%$'\r'}
        case "$line" in *:*) ;; *) continue ;; esac
        name=${line%%:*}
        if [ "${name,,}" = "$want" ]; then
            _HFOUND=1
            _HVAL=${line#*:}
            _HVAL=${_HVAL# }
        fi
    done <"$HDRS"
}

# hget NAME: a header of the last response (the last one if repeated), or nothing.
hget() {
    _hscan "$1"
    printf '%s' "$_HVAL"
}

# want_hdr NAME VALUE [what]: the header is present with exactly VALUE.
want_hdr() {
    _hscan "$1"
    [ "$_HFOUND" = 1 ] || fail "${3:-request}: header $1 missing (want '$2')"
    [ "$_HVAL" = "$2" ] || fail "${3:-request}: header $1 is '$_HVAL', want '$2'"
}

# want_no_hdr NAME [what]
want_no_hdr() {
    _hscan "$1"
    [ "$_HFOUND" = 0 ] || fail "${2:-request}: unexpected header $1: $_HVAL"
}

# body_code: the first error code of the last response body, or nothing. (Bash only: this runs
# after every error answer, and a jq process each time adds up.)
body_code() {
    local b='' re='^[[:space:]]*\{[[:space:]]*"errors"[[:space:]]*:[[:space:]]*\[[[:space:]]*\{[^}]*"code"[[:space:]]*:[[:space:]]*"([A-Z_]*)"'
    IFS= read -r -d '' b <"$BODY" || true
    if [[ "$b" =~ $re ]]; then printf '%s' "${BASH_REMATCH[1]}"; fi
}

# want_error STATUS CODE [what]: like expect_error, but also says which request failed.
want_error() {
    expect_status "$1" "${3:-request}"
    local code
    code=$(body_code)
    [ "$code" = "$2" ] || fail "${3:-request}: error code '$code', want $2; body: $(head -c 400 "$BODY")"
}

# alive [what]: the server still answers GET /v2/ with 200.
alive() {
    req GET /v2/
    expect_status 200 "${1:-server still serving}: GET /v2/"
}

# gen_bytes FILE SIZE SEED: SIZE pseudo-random bytes, the same for the same SEED.
gen_bytes() {
    "$PY" - "$1" "$2" "$3" <<'EOF'
import random, sys
path, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "wb") as f:
    f.write(random.Random(seed).randbytes(size))
EOF
}

# gen_text FILE TEXT: exactly TEXT, no newline added.
gen_text() { printf '%s' "$2" >"$1"; }

fsize() { stat -c %s "$1"; }

# loc_path: the Location of the last response as a path (absolute URLs are cut to the path).
loc_path() {
    local l
    l=$(hget Location)
    case "$l" in
    http://* | https://*) l="/${l#*://*/}" ;;
    esac
    printf '%s' "$l"
}

# with_query PATH QUERY: appends ?QUERY or &QUERY.
with_query() {
    case "$1" in
    *\?*) printf '%s&%s' "$1" "$2" ;;
    *) printf '%s?%s' "$1" "$2" ;;
    esac
}

# start_upload REPO: POST an upload session; prints its location path.
start_upload() {
    req POST "/v2/$1/blobs/uploads/" -H 'Content-Length: 0'
    expect_status 202 "start upload in $1"
    local l
    l=$(loc_path)
    [ -n "$l" ] || fail "start upload in $1: no Location"
    printf '%s' "$l"
}

# upload_range LOC: prints the Range of GET LOC (expects 204).
upload_range() {
    req GET "$1"
    expect_status 204 "upload status $1"
    hget Range
}

# want_blob REPO DIGEST FILE: GET returns exactly FILE with the digest header; HEAD agrees.
want_blob() {
    req GET "/v2/$1/blobs/$2"
    expect_status 200 "GET blob $2 in $1"
    cmp -s "$BODY" "$3" || fail "GET blob $2 in $1: body differs from $3"
    want_hdr Docker-Content-Digest "$2" "GET blob $2 in $1"
    want_hdr Content-Length "$(fsize "$3")" "GET blob $2 in $1"
    req HEAD "/v2/$1/blobs/$2"
    expect_status 200 "HEAD blob $2 in $1"
    want_hdr Content-Length "$(fsize "$3")" "HEAD blob $2 in $1"
    want_hdr Docker-Content-Digest "$2" "HEAD blob $2 in $1"
}

# want_no_blob REPO DIGEST [CODE]: HEAD and GET are 404, GET with CODE. Without CODE either
# BLOB_UNKNOWN or NAME_UNKNOWN (a refused first push leaves no repository behind).
want_no_blob() {
    req HEAD "/v2/$1/blobs/$2"
    expect_status 404 "HEAD blob $2 in $1"
    req GET "/v2/$1/blobs/$2"
    if [ -z "${3:-}" ] && [ "$(body_code)" = NAME_UNKNOWN ]; then
        want_error 404 NAME_UNKNOWN "GET blob $2 in $1"
    else
        want_error 404 "${3:-BLOB_UNKNOWN}" "GET blob $2 in $1"
    fi
}

# want_manifest REPO REF FILE MEDIATYPE: GET and HEAD return the pushed bytes and headers.
want_manifest() {
    local d
    d=$(sha256_of "$3")
    req GET "/v2/$1/manifests/$2" -H "Accept: $4"
    expect_status 200 "GET manifest $1:$2"
    cmp -s "$BODY" "$3" || fail "GET manifest $1:$2: body is not the pushed bytes"
    want_hdr Content-Type "$4" "GET manifest $1:$2"
    want_hdr Docker-Content-Digest "$d" "GET manifest $1:$2"
    req HEAD "/v2/$1/manifests/$2" -H "Accept: $4"
    expect_status 200 "HEAD manifest $1:$2"
    want_hdr Content-Length "$(fsize "$3")" "HEAD manifest $1:$2"
    want_hdr Content-Type "$4" "HEAD manifest $1:$2"
    want_hdr Docker-Content-Digest "$d" "HEAD manifest $1:$2"
}

# want_no_manifest REPO REF [CODE]: GET and HEAD are 404 (GET with CODE; without it
# MANIFEST_UNKNOWN, or NAME_UNKNOWN when the repository was never created).
want_no_manifest() {
    req HEAD "/v2/$1/manifests/$2"
    expect_status 404 "HEAD manifest $1:$2"
    req GET "/v2/$1/manifests/$2"
    if [ -z "${3:-}" ] && [ "$(body_code)" = NAME_UNKNOWN ]; then
        want_error 404 NAME_UNKNOWN "GET manifest $1:$2"
    else
        want_error 404 "${3:-MANIFEST_UNKNOWN}" "GET manifest $1:$2"
    fi
}

# put_manifest REPO REF FILE MEDIATYPE: PUT that must succeed; checks 201, Location and
# Docker-Content-Digest and prints the digest.
put_manifest() {
    local d
    d=$(sha256_of "$3")
    req PUT "/v2/$1/manifests/$2" -H "Content-Type: $4" --data-binary @"$3"
    expect_status 201 "PUT manifest $1:$2"
    want_hdr Docker-Content-Digest "$d" "PUT manifest $1:$2"
    local l
    l=$(loc_path)
    [ "$l" = "/v2/$1/manifests/$d" ] || [ "$l" = "/v2/$1/manifests/$2" ] ||
        fail "PUT manifest $1:$2: Location '$l' is not the manifest"
    printf '%s' "$d"
}

# tags_of REPO: the tags/list of REPO joined with commas (expects 200).
tags_of() {
    req GET "/v2/$1/tags/list"
    expect_status 200 "tags/list of $1"
    jq -r '.tags // [] | join(",")' "$BODY"
}

# catalog: the whole catalog joined with commas.
catalog() {
    req GET /v2/_catalog
    expect_status 200 "catalog"
    jq -r '.repositories // [] | join(",")' "$BODY"
}

# desc MEDIATYPE FILE: a descriptor of FILE as compact JSON.
desc() {
    jq -cn --arg mt "$1" --arg d "$(sha256_of "$2")" --argjson s "$(fsize "$2")" \
        '{mediaType: $mt, digest: $d, size: $s}'
}

# mk_image OUT MEDIATYPE CONFIG_DESC [LAYER_DESC...]: an image manifest (OCI or Docker).
mk_image() {
    local out=$1 mt=$2 cfg=$3
    shift 3
    local layers='[]'
    [ $# -eq 0 ] || layers=$(printf '%s\n' "$@" | jq -cs '.')
    jq -cnj --arg mt "$mt" --argjson c "$cfg" --argjson l "$layers" \
        '{schemaVersion: 2, mediaType: $mt, config: $c, layers: $l}' >"$out"
}

# mk_index OUT MEDIATYPE [CHILD_DESC...]: an image index or Docker manifest list.
mk_index() {
    local out=$1 mt=$2
    shift 2
    local ms='[]'
    [ $# -eq 0 ] || ms=$(printf '%s\n' "$@" | jq -cs '.')
    jq -cnj --arg mt "$mt" --argjson m "$ms" '{schemaVersion: 2, mediaType: $mt, manifests: $m}' \
        >"$out"
}

# platform DESC OS ARCH: DESC with a platform object.
platform() {
    jq -c --arg os "$2" --arg a "$3" '. + {platform: {os: $os, architecture: $a}}' <<<"$1"
}

# blob_stored DIGEST: the blob's bytes are in the store (true/false exit status).
blob_stored() {
    local hex=${1#sha256:}
    [ -e "$DATA/blobs/sha256/${hex:0:2}/$hex" ]
}

# upload_files: how many upload sessions have bytes on disk.
upload_files() { find "$DATA/uploads" -mindepth 1 -maxdepth 1 | wc -l; }

# db_scalar SQL: one value from the metadata database (read-only; use after stop_berth).
db_scalar() {
    "$PY" - "$DATA/meta.db" "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
print(db.execute(sys.argv[2]).fetchone()[0])
EOF
}

# no_sanitizer_reports: the server logs carry no AddressSanitizer/LeakSanitizer/UBSan report (a
# sanitizer build reports leaks at exit, which stop_berth does not look at)
no_sanitizer_reports() {
    local hits
    hits=$(grep -h -m 5 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined)' \
        "$T"/berth*.log 2>/dev/null || true)
    [ -z "$hits" ] || fail "sanitizer report in the server log: $hits"
}

# finish [UPLOADS]: the server still serves; stop it; fsck is clean and exactly UPLOADS
# (default 0) upload sessions remain, in the database and on disk.
finish() {
    local want=${1:-0}
    alive "at the end"
    stop_berth
    no_sanitizer_reports
    fsck_clean
    local rows files
    rows=$(db_scalar 'SELECT count(*) FROM uploads')
    files=$(upload_files)
    [ "$rows" = "$want" ] || fail "$rows upload sessions left in the database, want $want"
    [ "$files" = "$want" ] || fail "$files upload files left on disk, want $want"
    ok "server kept serving; fsck clean; $want upload sessions left"
}
