"""The lifecycle policy API through boto3: put/get, a preview with the waiter and the
paginator, typed fields, and the model's exceptions. Arguments: ENDPOINT REPO NAMES_JSON
(name -> digest of the scenario pushed by the shell test)."""
import datetime
import json
import sys

import boto3

endpoint, repo, names = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
by_digest = {d: n for n, d in names.items()}
ecr = boto3.client("ecr", endpoint_url=endpoint)
policy = json.dumps({"rules": [
    {"rulePriority": 1, "description": "keep two releases",
     "selection": {"tagStatus": "tagged", "tagPatternList": ["v*"], "countType": "imageCountMoreThan",
                   "countNumber": 2}, "action": {"type": "expire"}},
    {"rulePriority": 2, "description": "untagged older than three days",
     "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                   "countNumber": 3}, "action": {"type": "expire"}}]})


def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)


r = ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=policy)
check(r["lifecyclePolicyText"] == policy and r["registryId"] == "000000000000", "put response")
check(ecr.get_lifecycle_policy(repositoryName=repo)["lifecyclePolicyText"] == policy, "get")

try:
    ecr.get_lifecycle_policy_preview(repositoryName=repo)
    check(False, "preview before start")
except ecr.exceptions.LifecyclePolicyPreviewNotFoundException:
    pass

r = ecr.start_lifecycle_policy_preview(repositoryName=repo)
check(r["status"] == "IN_PROGRESS" and r["lifecyclePolicyText"] == policy, "start response")
ecr.get_waiter("lifecycle_policy_preview_complete").wait(
    repositoryName=repo, WaiterConfig={"Delay": 1, "MaxAttempts": 30})

results = []
for page in ecr.get_paginator("get_lifecycle_policy_preview").paginate(
        repositoryName=repo, PaginationConfig={"PageSize": 1}):
    check(page["status"] == "COMPLETE", "status COMPLETE")
    check(len(page["previewResults"]) <= 1, "page size 1")
    results += page["previewResults"]
got = sorted((by_digest[x["imageDigest"]], x["appliedRulePriority"]) for x in results)
check(got == [("A", 2), ("D", 1)], "preview results %r" % got)
for x in results:
    check(isinstance(x["imagePushedAt"], datetime.datetime), "imagePushedAt is a timestamp")
    check(x["action"] == {"type": "EXPIRE"}, "action")
d = next(x for x in results if by_digest[x["imageDigest"]] == "D")
check(d["imageTags"] == ["v1"], "imageTags %r" % d["imageTags"])
check(d["imagePushedAt"].year == 2030, "imagePushedAt on the registry clock")
r = ecr.get_lifecycle_policy_preview(repositoryName=repo, filter={"tagStatus": "UNTAGGED"})
check([by_digest[x["imageDigest"]] for x in r["previewResults"]] == ["A"], "filter UNTAGGED")
check(r["summary"]["expiringImageTotalCount"] == 1, "summary with a filter")
r = ecr.get_lifecycle_policy_preview(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
check([by_digest[x["imageDigest"]] for x in r["previewResults"]] == ["D"], "imageIds")

try:
    ecr.start_lifecycle_policy_preview(repositoryName=repo, lifecyclePolicyText=policy.replace('"expire"', '"destroy"'))
    check(False, "invalid preview text accepted")
except ecr.exceptions.InvalidParameterException as e:
    check('action type "destroy" is not expire' in str(e), "message: %s" % e)
ecr.delete_lifecycle_policy(repositoryName=repo)
try:
    ecr.get_lifecycle_policy(repositoryName=repo)
    check(False, "policy still there")
except ecr.exceptions.LifecyclePolicyNotFoundException:
    pass
print("boto3 lifecycle ok")
