#!/usr/bin/env bash
# Every worked example of the AWS user guide's "Examples of lifecycle policies", reproduced
# with real clients: images pushed over the OCI API at controlled times (the test clock), the
# policy put with `aws ecr put-lifecycle-policy`, `berth lifecycle run` beside the running
# server, and `aws ecr list-images` showing exactly the images the guide says survive.
. "$(dirname "$0")/lib_lifecycle.sh"
start_lc_berth

rule() { # rule PRIORITY SELECTION_JSON_MEMBERS
    printf '{"rulePriority":%s,"description":"Rule %s","selection":{%s},"action":{"type":"expire"}}' "$1" "$1" "$2"
}
policy() { # policy RULE...
    local IFS=,
    printf '{"rules":[%s]}' "$*"
}
# example NAME REPO SPEC POLICY EXPIRED REMAINING
example() {
    scenario "$2" "$3"
    put_policy "$2" "$4"
    expect_eq "$(expired_by_run "$2")" "$5" "$1: expired"
    expect_eq "$(remaining "$2")" "$6" "$1: remaining"
    ok "$1: expires $5, keeps $6"
}
d() { echo $(($1 * DAY)); }

example "filtering on image age (prod* older than 14 days)" ex/age \
    "[{\"name\":\"A\",\"tags\":[\"prod-1\"],\"ago\":$(d 20)},{\"name\":\"B\",\"tags\":[\"prod-2\"],\"ago\":$(d 10)},
      {\"name\":\"C\",\"tags\":[\"dev-1\"],\"ago\":$(d 30)},{\"name\":\"D\",\"tags\":[\"prod\"],\"ago\":$(d 15)},
      {\"name\":\"E\",\"ago\":$(d 40)}]" \
    "$(policy "$(rule 1 '"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":14')")" \
    A,D B,C,E

example "filtering on image age (untagged older than 14 days)" ex/age-untagged \
    "[{\"name\":\"A\",\"ago\":$(d 15)},{\"name\":\"B\",\"ago\":$(d 13)},{\"name\":\"C\",\"tags\":[\"v1\"],\"ago\":$(d 30)}]" \
    "$(policy "$(rule 1 '"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14')")" \
    A B,C

example "filtering on image count (keep one untagged image)" ex/count \
    "[{\"name\":\"A\",\"ago\":$(d 3)},{\"name\":\"B\",\"ago\":$(d 1)},{\"name\":\"C\",\"tags\":[\"v1\"],\"ago\":$(d 9)},
      {\"name\":\"D\",\"ago\":$(d 2)}]" \
    "$(policy "$(rule 1 '"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1')")" \
    A,D B,C

MULTI="[{\"name\":\"A\",\"tags\":[\"beta-1\",\"prod-1\"],\"ago\":$(d 10)},{\"name\":\"B\",\"tags\":[\"beta-2\",\"prod-2\"],\"ago\":$(d 9)},
        {\"name\":\"C\",\"tags\":[\"beta-3\"],\"ago\":$(d 8)}]"
example "multiple rules, example A (prod, then beta)" ex/multi-a "$MULTI" \
    "$(policy "$(rule 1 '"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"imageCountMoreThan","countNumber":1')" \
        "$(rule 2 '"tagStatus":"tagged","tagPatternList":["beta*"],"countType":"imageCountMoreThan","countNumber":1')")" \
    A B,C
example "multiple rules, example B (beta, then prod)" ex/multi-b "$MULTI" \
    "$(policy "$(rule 1 '"tagStatus":"tagged","tagPrefixList":["beta"],"countType":"imageCountMoreThan","countNumber":1')" \
        "$(rule 2 '"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":1')")" \
    A,B C

example "multiple tags in one rule, example A (must match all, older than 5 days)" ex/tags-a \
    "[{\"name\":\"A\",\"tags\":[\"alpha-1\"],\"ago\":$(d 12)},{\"name\":\"B\",\"tags\":[\"beta-1\"],\"ago\":$(d 11)},
      {\"name\":\"C\",\"tags\":[\"alpha-2\",\"beta-2\"],\"ago\":$(d 10)},{\"name\":\"D\",\"tags\":[\"alpha-3\"],\"ago\":$(d 4)},
      {\"name\":\"E\",\"tags\":[\"beta-3\"],\"ago\":$(d 3)},{\"name\":\"F\",\"tags\":[\"alpha-4\",\"beta-4\"],\"ago\":$(d 2)}]" \
    "$(policy "$(rule 1 '"tagStatus":"tagged","tagPatternList":["alpha*","beta*"],"countType":"sinceImagePushed","countNumber":5,"countUnit":"days"')")" \
    C A,B,D,E,F

example "multiple tags in one rule, example B (tags are not exclusive)" ex/tags-b \
    "[{\"name\":\"A\",\"tags\":[\"alpha-1\",\"beta-1\",\"gamma-1\"],\"ago\":$(d 10)},{\"name\":\"B\",\"tags\":[\"alpha-2\",\"beta-2\"],\"ago\":$(d 9)},
      {\"name\":\"C\",\"tags\":[\"alpha-3\",\"beta-3\",\"gamma-2\"],\"ago\":$(d 8)}]" \
    "$(policy "$(rule 1 '"tagStatus":"tagged","tagPrefixList":["alpha","beta"],"countType":"imageCountMoreThan","countNumber":1')")" \
    A,B C

example "all images, example A (tagStatus any keeps the newest)" ex/all-a \
    "[{\"name\":\"A\",\"tags\":[\"alpha-1\"],\"ago\":$(d 4)},{\"name\":\"B\",\"tags\":[\"beta-1\"],\"ago\":$(d 3)},
      {\"name\":\"C\",\"ago\":$(d 2)},{\"name\":\"D\",\"tags\":[\"alpha-2\"],\"ago\":$(d 1)}]" \
    "$(policy "$(rule 1 '"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1')")" \
    A,B,C D

example "all images, example B (every rule type in one policy)" ex/all-b \
    "[{\"name\":\"A\",\"tags\":[\"alpha-1\",\"beta-1\"],\"ago\":$(d 4)},{\"name\":\"B\",\"ago\":$(d 3)},
      {\"name\":\"C\",\"tags\":[\"alpha-2\"],\"ago\":$(d 2)},{\"name\":\"D\",\"tags\":[\"git-hash\"],\"ago\":$(($(d 1) + 1))},
      {\"name\":\"E\",\"ago\":$(d 1)}]" \
    "$(policy "$(rule 1 '"tagStatus":"tagged","tagPrefixList":["alpha"],"countType":"imageCountMoreThan","countNumber":1')" \
        "$(rule 2 '"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1')" \
        "$(rule 3 '"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1')")" \
    A,B,D C,E

# A second run finds nothing more to do: the policy's state is stable.
lc_run --repository ex/all-b
grep -q "0 images expired" "$T/lc.out" || fail "second run expired more: $(cat "$T/lc.out")"
expect_eq "$(remaining ex/all-b)" C,E "all images B after a second run"
ok "a second run changes nothing"

# The run was recorded: lastEvaluatedAt is the registry clock's NOW.
expect_eq "$(must awsx ecr get-lifecycle-policy --repository-name ex/all-b --query lastEvaluatedAt --output text | cut -c1-4)" 2030 \
    "lastEvaluatedAt"
ok "get-lifecycle-policy reports lastEvaluatedAt"

lc_finish
