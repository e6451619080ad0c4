#!/usr/bin/env python3
"""Images, layers and referrers through boto3 against a Berth server, with plain asserts.

  ecr_boto3_images.py URL KEY SECRET

Uploads layers with initiate_layer_upload / upload_layer_part / complete_layer_upload, stores
an image and two referrers (a signature and an SBOM) with put_image, then reads them back with
list_images, describe_images, batch_get_image and list_image_referrers (filter, pagination),
and deletes with batch_delete_image.
"""
import hashlib
import json
import sys

import boto3
import botocore.config
from botocore.exceptions import ClientError

URL, KEY, SECRET = sys.argv[1:4]
ecr = boto3.client("ecr", endpoint_url=URL, region_name="us-east-1", aws_access_key_id=KEY,
                   aws_secret_access_key=SECRET,
                   config=botocore.config.Config(retries={"max_attempts": 1}))
REPO = "b3/app"
ecr.create_repository(repositoryName=REPO)


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def upload(data):
    up = ecr.initiate_layer_upload(repositoryName=REPO)
    half = len(data) // 2 or len(data)
    parts = [(0, data[:half]), (half, data[half:])] if len(data) > 1 else [(0, data)]
    for first, chunk in parts:
        if not chunk:
            continue
        r = ecr.upload_layer_part(repositoryName=REPO, uploadId=up["uploadId"],
                                  partFirstByte=first, partLastByte=first + len(chunk) - 1,
                                  layerPartBlob=chunk)
        assert r["lastByteReceived"] == first + len(chunk) - 1, r
    r = ecr.complete_layer_upload(repositoryName=REPO, uploadId=up["uploadId"],
                                  layerDigests=[digest(data)])
    assert r["layerDigest"] == digest(data), r
    return {"digest": digest(data), "size": len(data)}


def manifest(config_mt, config, layer_mt, layer, **extra):
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": dict(mediaType=config_mt, **config),
         "layers": [dict(mediaType=layer_mt, **layer)]}
    m.update(extra)
    return json.dumps(m, separators=(",", ":"))


cfg = upload(b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}')
layer = upload(bytes(range(256)) * 400)
empty = upload(b"{}")
avail = ecr.batch_check_layer_availability(repositoryName=REPO,
                                           layerDigests=[layer["digest"], digest(b"nope")])
assert [l["layerAvailability"] for l in avail["layers"]] == ["AVAILABLE"], avail
assert avail["failures"][0]["failureCode"] == "MissingLayerDigest", avail

img = manifest("application/vnd.oci.image.config.v1+json", cfg,
               "application/vnd.oci.image.layer.v1.tar+gzip", layer)
r = ecr.put_image(repositoryName=REPO, imageTag="v1", imageManifest=img)
assert r["image"]["imageId"] == {"imageDigest": digest(img.encode()), "imageTag": "v1"}, r
subject = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": digest(img.encode()), "size": len(img)}
sig = manifest("application/vnd.oci.empty.v1+json", empty, "application/vnd.dev.cosign.simplesigning.v1+json",
               layer, artifactType="application/vnd.dev.cosign.artifact.sig.v1+json",
               subject=subject, annotations={"dev.sigstore.cosign/signature": "x"})
sbom = manifest("application/vnd.oci.empty.v1+json", empty, "application/spdx+json", layer,
                artifactType="application/spdx+json", subject=subject)
for m in (sig, sbom):
    ecr.put_image(repositoryName=REPO, imageManifest=m)

ids = ecr.list_images(repositoryName=REPO)["imageIds"]
assert {"imageDigest": digest(img.encode()), "imageTag": "v1"} in ids, ids
untagged = ecr.list_images(repositoryName=REPO, filter={"tagStatus": "UNTAGGED"})["imageIds"]
assert sorted(i["imageDigest"] for i in untagged) == sorted([digest(sig.encode()), digest(sbom.encode())]), untagged
details = ecr.describe_images(repositoryName=REPO, imageIds=[{"imageTag": "v1"}])["imageDetails"]
assert details[0]["imageTags"] == ["v1"] and details[0]["imageSizeInBytes"] >= layer["size"], details
sd = ecr.describe_images(repositoryName=REPO, imageIds=[{"imageDigest": digest(sbom.encode())}])["imageDetails"][0]
assert sd["subjectManifestDigest"] == digest(img.encode()) and sd["artifactMediaType"] == "application/spdx+json", sd
got = ecr.batch_get_image(repositoryName=REPO, imageIds=[{"imageTag": "v1"}, {"imageTag": "nope"}])
assert got["images"][0]["imageManifest"] == img, got
assert got["failures"][0]["failureCode"] == "ImageNotFound", got
pages = list(ecr.get_paginator("describe_images").paginate(repositoryName=REPO, PaginationConfig={"PageSize": 1}))
assert sum(len(p["imageDetails"]) for p in pages) == 3 and len(pages) >= 3, pages

refs = ecr.list_image_referrers(repositoryName=REPO, subjectId={"imageDigest": digest(img.encode())})
got_types = sorted(r["artifactType"] for r in refs["referrers"])
assert got_types == ["application/spdx+json", "application/vnd.dev.cosign.artifact.sig.v1+json"], refs
s = [r for r in refs["referrers"] if r["digest"] == digest(sig.encode())][0]
assert s["annotations"] == {"dev.sigstore.cosign/signature": "x"} and s["size"] == len(sig), s
only = ecr.list_image_referrers(repositoryName=REPO, subjectId={"imageDigest": digest(img.encode())},
                                filter={"artifactTypes": ["application/spdx+json"]})["referrers"]
assert [r["digest"] for r in only] == [digest(sbom.encode())], only
p1 = ecr.list_image_referrers(repositoryName=REPO, subjectId={"imageDigest": digest(img.encode())}, maxResults=1)
assert len(p1["referrers"]) == 1 and p1.get("nextToken"), p1
p2 = ecr.list_image_referrers(repositoryName=REPO, subjectId={"imageDigest": digest(img.encode())},
                              maxResults=1, nextToken=p1["nextToken"])
assert len(p2["referrers"]) == 1 and p2["referrers"][0]["digest"] != p1["referrers"][0]["digest"], p2
assert not p2.get("nextToken"), p2

try:
    ecr.put_image(repositoryName=REPO, imageTag="v1", imageManifest=img)
    raise AssertionError("the same retag succeeded")
except ClientError as e:
    assert e.response["Error"]["Code"] == "ImageAlreadyExistsException", e.response
gone = ecr.batch_delete_image(repositoryName=REPO, imageIds=[{"imageDigest": digest(sig.encode())},
                                                             {"imageDigest": digest(b"x")}])
assert gone["imageIds"] == [{"imageDigest": digest(sig.encode())}], gone
assert gone["failures"][0]["failureCode"] == "ImageNotFound", gone
left = ecr.list_image_referrers(repositoryName=REPO, subjectId={"imageDigest": digest(img.encode())})
assert [r["digest"] for r in left["referrers"]] == [digest(sbom.encode())], left

# the rest of the listed operations through boto3: scanning configuration, download URL,
# repository policy delete, registry policy round trip, DescribeRegistry
import urllib.request
r = ecr.put_image_scanning_configuration(repositoryName=REPO,
                                         imageScanningConfiguration={"scanOnPush": True})
assert r["imageScanningConfiguration"] == {"scanOnPush": True}, r
repo = ecr.describe_repositories(repositoryNames=[REPO])["repositories"][0]
assert repo["imageScanningConfiguration"] == {"scanOnPush": True}, repo
url = ecr.get_download_url_for_layer(repositoryName=REPO, layerDigest=layer["digest"])["downloadUrl"]
assert urllib.request.urlopen(url, timeout=20).read() == bytes(range(256)) * 400, url
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Sid": "pull", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]})
ecr.set_repository_policy(repositoryName=REPO, policyText=POLICY)
assert ecr.delete_repository_policy(repositoryName=REPO)["policyText"] == POLICY
try:
    ecr.get_repository_policy(repositoryName=REPO)
    raise AssertionError("the repository policy survived its deletion")
except ClientError as e:
    assert e.response["Error"]["Code"] == "RepositoryPolicyNotFoundException", e.response
REG_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Sid": "repl", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
    "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
    "Resource": "arn:aws:ecr:us-east-1:000000000000:repository/*"}]})
assert ecr.put_registry_policy(policyText=REG_POLICY)["registryId"] == "000000000000"
assert ecr.get_registry_policy()["policyText"] == REG_POLICY
assert ecr.delete_registry_policy()["policyText"] == REG_POLICY
try:
    ecr.get_registry_policy()
    raise AssertionError("the registry policy survived its deletion")
except ClientError as e:
    assert e.response["Error"]["Code"] == "RegistryPolicyNotFoundException", e.response
reg = ecr.describe_registry()
assert reg["registryId"] == "000000000000" and reg["replicationConfiguration"]["rules"] == [], reg
print("ok")
