#!/usr/bin/env python3
"""Pushes the images of a lifecycle scenario through the OCI API, each at its own time.

  lifecycle_images.py URL AUTHORIZATION CLOCK_FILE NOW REPO SPEC_JSON

SPEC_JSON is a list of {"name": "A", "tags": [...], "ago": SECONDS} (optionally "index": [names]
to push an image index of earlier images, "subject": name to push a referrer of an earlier
image, "artifactType": for referrers). Before each push the registry's test clock file is set to
NOW - ago, so the server records that push time. Every image gets its own config blob and
shares one layer. Prints {"A": "sha256:...", ...}.
"""
import hashlib
import json
import sys
import urllib.request

url, authz, clock, now, repo, spec = sys.argv[1:7]
now = int(now)
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"


def call(method, path, data=b"", headers=None):
    h = {"Authorization": authz}
    h.update(headers or {})
    r = urllib.request.Request(url + path, data=data if method in ("POST", "PUT") else None,
                               method=method, headers=h)
    with urllib.request.urlopen(r, timeout=30) as resp:
        return resp.status


def blob(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    call("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), data,
         {"Content-Type": "application/octet-stream"})
    return {"digest": d, "size": len(data)}


def put(ref, body, mt):
    call("PUT", "/v2/%s/manifests/%s" % (repo, ref), body, {"Content-Type": mt})


layer = blob(b"berth lifecycle test layer\n" * 64)
layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
out, sizes, media_types = {}, {}, {}
for img in json.loads(spec):
    with open(clock, "w") as f:
        f.write(str(now - int(img.get("ago", 0))))
    if "index" in img:
        m = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [
            {"mediaType": MT_MANIFEST, "digest": out[c], "size": sizes[c],
             "platform": {"os": "linux", "architecture": "arch%d" % i}}
            for i, c in enumerate(img["index"])]}
        mt = MT_INDEX
    else:
        cfg = blob(json.dumps({"image": img["name"], "repo": repo}).encode())
        cfg["mediaType"] = "application/vnd.oci.image.config.v1+json"
        m = {"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": cfg, "layers": [layer]}
        if "subject" in img:
            subj = img["subject"]
            m["subject"] = {"mediaType": media_types[subj], "digest": out[subj], "size": sizes[subj]}
            m["artifactType"] = img.get("artifactType", "application/vnd.example.signature")
        mt = MT_MANIFEST
    body = json.dumps(m, sort_keys=True).encode()
    d = "sha256:" + hashlib.sha256(body).hexdigest()
    for t in img.get("tags") or [d]:
        put(t, body, mt)
    out[img["name"]] = d
    sizes[img["name"]] = len(body)
    media_types[img["name"]] = mt
print(json.dumps(out))
