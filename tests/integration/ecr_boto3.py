#!/usr/bin/env python3
"""The core ECR flow through boto3 against a Berth server, with plain asserts.

  ecr_boto3.py URL ADMIN_KEY ADMIN_SECRET USER_KEY USER_SECRET

USER_* is an IAM user of account 000000000000 without any policy. Exits non-zero (an
AssertionError or an unexpected ClientError with its traceback) when anything is off.
"""
import base64
import datetime
import hashlib
import json
import sys
import urllib.error
import urllib.request

import boto3
import botocore.config
from botocore.exceptions import ClientError

URL, KEY, SECRET, USER_KEY, USER_SECRET = sys.argv[1:6]
ACCOUNT, REGION = "000000000000", "us-east-1"
HOST = URL.split("://", 1)[1]
CFG = botocore.config.Config(retries={"max_attempts": 1})


def client(service, key=KEY, secret=SECRET):
    return boto3.client(service, endpoint_url=URL, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key=secret, config=CFG)


def error_code(fn, **kw):
    """The ClientError code fn(**kw) raises; fails if it succeeds."""
    try:
        fn(**kw)
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
        assert e.response["Error"].get("Message"), e.response
        return e.response["Error"]["Code"]
    raise AssertionError("%s(%r) succeeded" % (fn.__name__, kw))


def step(msg):
    print("ok - boto3: " + msg, flush=True)


ecr, sts = client("ecr"), client("sts")

# STS
me = sts.get_caller_identity()
assert me["Account"] == ACCOUNT, me
assert me["Arn"] == "arn:aws:iam::%s:root" % ACCOUNT, me
step("sts get_caller_identity")

# create_repository
r = ecr.create_repository(repositoryName="b3/app", imageTagMutability="IMMUTABLE",
                          imageScanningConfiguration={"scanOnPush": True},
                          tags=[{"Key": "team", "Value": "ml"}])["repository"]
assert r["repositoryArn"] == "arn:aws:ecr:%s:%s:repository/b3/app" % (REGION, ACCOUNT), r
assert r["registryId"] == ACCOUNT, r
assert r["repositoryName"] == "b3/app", r
assert r["repositoryUri"] == HOST + "/b3/app", r
assert r["imageTagMutability"] == "IMMUTABLE", r
assert r["imageScanningConfiguration"] == {"scanOnPush": True}, r
assert r["encryptionConfiguration"] == {"encryptionType": "AES256"}, r
assert isinstance(r["createdAt"], datetime.datetime), r
age = datetime.datetime.now(datetime.timezone.utc) - r["createdAt"]
assert datetime.timedelta(minutes=-1) < age < datetime.timedelta(minutes=5), r["createdAt"]
ARN = r["repositoryArn"]
assert error_code(ecr.create_repository, repositoryName="b3/app") == "RepositoryAlreadyExistsException"
step("create_repository fields; RepositoryAlreadyExistsException")

# describe_repositories with the paginator
names = ["b3/p%02d" % i for i in range(7)]
for n in names:
    ecr.create_repository(repositoryName=n)
pages = list(ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 3}))
assert [len(p["repositories"]) for p in pages] == [3, 3, 2], [len(p["repositories"]) for p in pages]
got = [x["repositoryName"] for p in pages for x in p["repositories"]]
assert sorted(got) == sorted(names + ["b3/app"]) and len(set(got)) == 8, got
assert "nextToken" not in pages[-1], pages[-1]
d = ecr.describe_repositories(repositoryNames=["b3/app", "b3/p03"])["repositories"]
assert [x["repositoryName"] for x in d] == ["b3/app", "b3/p03"], d
assert d[0]["createdAt"] == r["createdAt"], d[0]
assert error_code(ecr.describe_repositories, repositoryNames=["b3/none"]) == "RepositoryNotFoundException"
step("describe_repositories: paginator with PageSize 3 gives 3+3+2; by name; RepositoryNotFoundException")

# get_authorization_token -> base64 "AWS:<password>" that works on /v2/
ad = ecr.get_authorization_token()["authorizationData"]
assert len(ad) == 1, ad
tok = ad[0]["authorizationToken"]
user, _, pw = base64.b64decode(tok).decode().partition(":")
assert user == "AWS" and pw, user
assert ad[0]["proxyEndpoint"] == URL, ad[0]
left = ad[0]["expiresAt"] - datetime.datetime.now(datetime.timezone.utc)
assert datetime.timedelta(hours=11) < left <= datetime.timedelta(hours=12, minutes=1), ad[0]["expiresAt"]


def v2(path, auth=None):
    req = urllib.request.Request(URL + path, headers={"Authorization": auth} if auth else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


assert v2("/v2/", "Basic " + tok)[0] == 200
st, body = v2("/v2/b3/app/tags/list", "Basic " + tok)
assert st == 200 and body.get("name") == "b3/app", (st, body)
assert v2("/v2/b3/app/tags/list")[0] == 401
step("get_authorization_token decodes to AWS:<password>, ~12 h, works as Basic on /v2/")

# tags
ecr.tag_resource(resourceArn=ARN, tags=[{"Key": "env", "Value": "prod"}])
t = sorted(ecr.list_tags_for_resource(resourceArn=ARN)["tags"], key=lambda x: x["Key"])
assert t == [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "ml"}], t
ecr.untag_resource(resourceArn=ARN, tagKeys=["team"])
assert ecr.list_tags_for_resource(resourceArn=ARN)["tags"] == [{"Key": "env", "Value": "prod"}]
step("tag_resource / list_tags_for_resource / untag_resource")

# tag mutability with exclusion filters, read back
f = [{"filterType": "WILDCARD", "filter": "latest"}, {"filterType": "WILDCARD", "filter": "nightly-*"}]
o = ecr.put_image_tag_mutability(repositoryName="b3/app", imageTagMutability="MUTABLE_WITH_EXCLUSION",
                                 imageTagMutabilityExclusionFilters=f)
assert o["registryId"] == ACCOUNT and o["repositoryName"] == "b3/app", o
assert o["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION", o
assert o["imageTagMutabilityExclusionFilters"] == f, o
d = ecr.describe_repositories(repositoryNames=["b3/app"])["repositories"][0]
assert d["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION", d
assert d["imageTagMutabilityExclusionFilters"] == f, d
assert error_code(ecr.put_image_tag_mutability, repositoryName="b3/app", imageTagMutability="MUTABLE",
                  imageTagMutabilityExclusionFilters=f) == "InvalidParameterException"
d = ecr.describe_repositories(repositoryNames=["b3/app"])["repositories"][0]
assert d["imageTagMutabilityExclusionFilters"] == f, "a refused call changed the filters: %r" % d
ecr.put_image_tag_mutability(repositoryName="b3/app", imageTagMutability="IMMUTABLE")
d = ecr.describe_repositories(repositoryNames=["b3/app"])["repositories"][0]
assert d["imageTagMutability"] == "IMMUTABLE", d
assert "imageTagMutabilityExclusionFilters" not in d or not d["imageTagMutabilityExclusionFilters"], d
c = ecr.create_repository(repositoryName="b3/excl", imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                          imageTagMutabilityExclusionFilters=f[:1])["repository"]
assert c["imageTagMutabilityExclusionFilters"] == f[:1], c
step("put_image_tag_mutability with imageTagMutabilityExclusionFilters, read back; cleared by IMMUTABLE")

# repository policy
pol = {"Version": "2012-10-17", "Statement": [{"Sid": "pull", "Effect": "Allow",
       "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
       "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}
o = ecr.set_repository_policy(repositoryName="b3/app", policyText=json.dumps(pol))
assert o["registryId"] == ACCOUNT and o["repositoryName"] == "b3/app", o
assert json.loads(o["policyText"]) == pol, o
g = ecr.get_repository_policy(repositoryName="b3/app")
assert json.loads(g["policyText"]) == pol and g["repositoryName"] == "b3/app", g
assert error_code(ecr.get_repository_policy, repositoryName="b3/p00") == "RepositoryPolicyNotFoundException"
assert error_code(ecr.set_repository_policy, repositoryName="b3/app",
                  policyText='{"Statement": 5}') == "InvalidParameterException"
assert json.loads(ecr.get_repository_policy(repositoryName="b3/app")["policyText"]) == pol
step("set/get_repository_policy round trip; RepositoryPolicyNotFoundException; bad document refused")

# AccessDeniedException for a user without policies
u = client("ecr", USER_KEY, USER_SECRET)
assert client("sts", USER_KEY, USER_SECRET).get_caller_identity()["Arn"] == "arn:aws:iam::%s:user/ci" % ACCOUNT
for fn, kw in ((u.create_repository, {"repositoryName": "b3/by-user"}),
               (u.describe_repositories, {}),
               (u.get_authorization_token, {}),
               (u.delete_repository, {"repositoryName": "b3/app", "force": True})):
    assert error_code(fn, **kw) == "AccessDeniedException", fn.__name__
assert error_code(ecr.describe_repositories, repositoryNames=["b3/by-user"]) == "RepositoryNotFoundException"
step("AccessDeniedException for a user without policies; nothing created")

# delete_repository: empty, not empty, force
o = ecr.delete_repository(repositoryName="b3/p00")["repository"]
assert o["repositoryName"] == "b3/p00" and o["registryId"] == ACCOUNT, o
assert error_code(ecr.delete_repository, repositoryName="b3/p00") == "RepositoryNotFoundException"
pw_auth = "Basic " + tok
layer = b"berth boto3 layer\n"
cfg = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'


def dgst(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


for blob in (layer, cfg):
    req = urllib.request.Request("%s/v2/b3/app/blobs/uploads/?digest=%s" % (URL, dgst(blob)), data=blob,
                                 method="POST", headers={"Authorization": pw_auth,
                                                         "Content-Type": "application/octet-stream"})
    assert urllib.request.urlopen(req, timeout=10).status == 201
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": dgst(cfg), "size": len(cfg)},
                  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": dgst(layer),
                              "size": len(layer)}]}).encode()
req = urllib.request.Request(URL + "/v2/b3/app/manifests/v1", data=man, method="PUT",
                             headers={"Authorization": pw_auth,
                                      "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
assert urllib.request.urlopen(req, timeout=10).status == 201
assert v2("/v2/b3/app/tags/list", pw_auth)[1].get("tags") == ["v1"]
assert error_code(ecr.delete_repository, repositoryName="b3/app") == "RepositoryNotEmptyException"
assert ecr.describe_repositories(repositoryNames=["b3/app"])["repositories"][0]["repositoryName"] == "b3/app"
o = ecr.delete_repository(repositoryName="b3/app", force=True)["repository"]
assert o["repositoryArn"] == ARN, o
assert error_code(ecr.describe_repositories, repositoryNames=["b3/app"]) == "RepositoryNotFoundException"
st, body = v2("/v2/b3/app/manifests/v1", pw_auth)
assert st == 404 and body["errors"][0]["code"] == "NAME_UNKNOWN", (st, body)
step("delete_repository: RepositoryNotEmptyException, force=True removes repository and image")

left = sorted(x["repositoryName"] for p in ecr.get_paginator("describe_repositories").paginate()
              for x in p["repositories"])
assert left == ["b3/excl"] + names[1:], left
step("the registry holds exactly the expected repositories")
