#!/usr/bin/env python3
"""Builds OCI image layouts from root filesystem tarballs, for the integration tests.

  mkimage.py single OUT ROOTFS.tar.gz            one linux/amd64 image, tag "latest"
  mkimage.py multi  OUT ROOTFS_A.tar.gz ROOTFS_B.tar.gz
                                                 an image index with linux/amd64 (A) and
                                                 linux/arm64 (B), tag "latest"

Only the standard library: the layouts are what `skopeo copy oci:OUT:latest ...` reads.
"""
import gzip
import hashlib
import json
import os
import sys


def put_blob(out, data):
    d = hashlib.sha256(data).hexdigest()
    path = os.path.join(out, "blobs", "sha256", d)
    with open(path, "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)


def image(out, rootfs, arch, variant):
    layer = open(rootfs, "rb").read()
    diff_id = "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()
    layer_digest, layer_size = put_blob(out, layer)
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "berth %s test image from %s" % (variant, os.path.basename(rootfs))}],
    }
    cfg = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    cfg_digest, cfg_size = put_blob(out, cfg)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest, "size": cfg_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_size}],
    }
    m = json.dumps(manifest, indent=2).encode()
    md, ms = put_blob(out, m)
    return {"mediaType": manifest["mediaType"], "digest": md, "size": ms,
            "platform": {"architecture": arch, "os": "linux"}}


def main():
    kind, out = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    if kind == "single":
        top = image(out, sys.argv[3], "amd64", "single")
        top.pop("platform")
    elif kind == "multi":
        children = [image(out, sys.argv[3], "amd64", "multi"), image(out, sys.argv[4], "arm64", "multi")]
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": children}
        data = json.dumps(index, indent=2).encode()
        d, s = put_blob(out, data)
        top = {"mediaType": index["mediaType"], "digest": d, "size": s}
    else:
        sys.exit("usage: mkimage.py single|multi OUT ROOTFS...")
    top["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [top]}, f)
    print(top["digest"])


if __name__ == "__main__":
    main()
