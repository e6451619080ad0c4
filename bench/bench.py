#!/usr/bin/env python3
"""Side-by-side benchmark of Berth and the reference registry (CNCF distribution 2.8).

Started by bench/run, which installs the tools and builds Berth. This program starts every
server it measures (Berth with authentication on, docker-registry without any, nginx serving
the same files statically) on 127.0.0.1 with fresh data directories under the work directory,
runs the same client against each, prints one table, the core and the performance targets,
and stops everything it started. It exits non-zero only when something fails (a request that
does not answer as the API says, a server that does not start), never because of a timing.
"""

import argparse
import base64
import gc
import hashlib
import http.client
import json
import os
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

from procs import Procs, tail  # bench/procs.py, shared with scale.py

MIB = 1024 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The bootstrap admin key Berth creates on its first start (on an empty data dir); the
# environment overrides them. A throwaway key for a server on 127.0.0.1 that lives for one run.
ADMIN_KEY_ID = os.environ.get("BERTH_ADMIN_ACCESS_KEY_ID") or "AKIABERTHBENCHADMIN1"
ADMIN_SECRET = (os.environ.get("BERTH_ADMIN_SECRET_ACCESS_KEY") or
                "BerthBenchSecret/0123456789abcdefghijklm")
REGION = "us-east-1"


class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def probe(port):
    """GET /v2/ without credentials: (status, has a Basic WWW-Authenticate challenge), or
    (None, False) while the port is closed or the answer is incomplete."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError:
        return None, False
    try:
        s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 16384:
            b = s.recv(4096)
            if not b:
                break
            data += b
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        m = re.match(r"HTTP/1\.[01] (\d{3})", head)
        if not m or b"\r\n\r\n" not in data:
            return None, False
        challenge = re.search(r"^www-authenticate:\s*basic\b", head, re.I | re.M) is not None
        return int(m.group(1)), challenge
    except OSError:
        return None, False
    finally:
        s.close()


def proc_status(pid, key):
    """A /proc/PID/status field in KiB (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise BenchError(f"no {key} for pid {pid}")


def proc_cpu_seconds(pid):
    """utime + stime of a process, all its threads, from /proc/PID/stat (in seconds)."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pss(pid):
    """Proportional set size in KiB: shared library pages divided among their users."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise BenchError(f"no Pss for pid {pid}")


# ---------------------------------------------------------------- servers

class Server:
    def __init__(self, kind, name, proc, port, logpath, data=None):
        self.kind, self.name, self.proc, self.port, self.logpath = kind, name, proc, port, logpath
        self.data = data
        self.auth = None  # the Authorization header value every request carries, if any
        self.curl_header = None  # a file with that header, for curl -H @file

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"


class Bench:
    def __init__(self, args):
        self.a = args
        self.work = args.work
        self.procs = Procs(os.path.join(self.work, "pids"))
        self.results = {}  # metric -> {"berth": v, "reference": v, "nginx": v, ...}
        self.notes = []

    # --- starting servers

    def start_registry(self, kind, tag):
        """Starts a registry on an empty data dir; returns it and the seconds from exec until it
        was ready. Ready: the reference answers GET /v2/ with 200; Berth with auth on answers
        it with 401 and a Basic challenge (the API version check a client makes before it logs
        in; the bootstrap admin key already exists by then, as the server creates it before it
        listens), with auth off with 200."""
        port = free_port()
        data = os.path.join(self.work, "data", tag)
        os.makedirs(data)
        logpath = os.path.join(self.work, f"{tag}.log")
        env = None
        want = 200
        if kind == "berth":
            auth = "true" if self.a.berth_auth else "false"
            argv = [self.a.berth, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data,
                    "--log-level", "warn", f"--auth={auth}", "--auto-create-repos=true"]
            env = dict(os.environ, BERTH_ADMIN_ACCESS_KEY_ID=ADMIN_KEY_ID,
                       BERTH_ADMIN_SECRET_ACCESS_KEY=ADMIN_SECRET)
            if self.a.berth_auth:
                want = 401
        else:
            cfg = os.path.join(self.work, f"{tag}.config.yml")
            with open(cfg, "w") as f:
                f.write(REGISTRY_CONFIG.format(root=data, port=port))
            argv = [self.a.registry, "serve", cfg]
        t0 = time.perf_counter()
        p = self.procs.spawn(argv, logpath, env)
        deadline = t0 + 30
        while True:
            st, challenge = probe(port)
            if st == want and (want != 401 or challenge):
                break
            if st is not None:
                raise BenchError(f"{kind}: GET /v2/ answered {st}"
                                 f"{' without a Basic challenge' if st == want else ''}, "
                                 f"expected {want}; log:\n{tail(logpath)}")
            if p.poll() is not None:
                raise BenchError(f"{kind} exited with {p.returncode} before answering /v2/; "
                                 f"log:\n{tail(logpath)}")
            if time.perf_counter() > deadline:
                raise BenchError(f"{kind} did not answer /v2/ with {want} within 30 s; "
                                 f"log:\n{tail(logpath)}")
            time.sleep(0.0002)
        return Server(kind, tag, p, port, logpath, data), time.perf_counter() - t0

    def start_nginx(self, root):
        port = free_port()
        prefix = os.path.join(self.work, "nginx")
        os.makedirs(os.path.join(prefix, "tmp"), exist_ok=True)
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONFIG.format(prefix=prefix, port=port, root=root))
        logpath = os.path.join(self.work, "nginx.log")
        p = self.procs.spawn([self.a.nginx, "-p", prefix, "-c", conf], logpath)
        deadline = time.time() + 15
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("HEAD", "/big.bin")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status != 200:
                    raise BenchError(f"nginx answered {r.status} for /big.bin")
                break
            except OSError:
                pass
            if p.poll() is not None:
                raise BenchError(f"nginx exited with {p.returncode}; log:\n{tail(logpath)}")
            if time.time() > deadline:
                raise BenchError("nginx did not start within 15 s")
            time.sleep(0.01)
        return Server("nginx", "nginx", p, port, logpath)

    def login(self, s):
        """The registry password as a user gets it: `aws ecr get-login-password` (AWS CLI v2)
        with the bootstrap admin key and nothing else from this machine's AWS setup. Every
        request to Berth then carries Authorization: Basic base64("AWS:" + token)."""
        d = os.path.join(self.work, "aws")
        os.makedirs(d, exist_ok=True)
        config, creds = os.path.join(d, "config"), os.path.join(d, "credentials")
        for path in (config, creds):
            open(path, "w").close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_CONFIG_FILE=config, AWS_SHARED_CREDENTIALS_FILE=creds,
                   AWS_ACCESS_KEY_ID=ADMIN_KEY_ID, AWS_SECRET_ACCESS_KEY=ADMIN_SECRET,
                   AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="")
        argv = [self.a.aws, "ecr", "get-login-password", "--endpoint-url", s.base,
                "--region", REGION]
        t0 = time.perf_counter()
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        dt = time.perf_counter() - t0
        token = p.stdout.strip()
        if p.returncode != 0 or not token or "\n" in token:
            raise BenchError(f"aws ecr get-login-password failed ({p.returncode}): "
                             f"{p.stderr.strip()[:500]}")
        s.auth = "Basic " + base64.b64encode(f"AWS:{token}".encode()).decode()
        # curl reads the header from a file, so that the token is not on a command line
        s.curl_header = os.path.join(d, "curl-auth.hdr")
        fd = os.open(s.curl_header, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"Authorization: {s.auth}\n")
        return dt

    def check_auth(self, s, paths, method="GET"):
        """Berth must refuse each path without credentials and with a wrong token (401), and
        answer it with the token (200): the measured requests are really authenticated."""
        bad = "Basic " + base64.b64encode(f"AWS:b1.{ADMIN_KEY_ID}.1.00".encode()).decode()
        for path in paths:
            for label, auth, want in (("no credentials", None, 401), ("a wrong token", bad, 401),
                                      ("the token", s.auth, 200)):
                c = RawClient(s.port, auth)
                try:
                    st, _, _ = c.request(method, path)
                finally:
                    c.close()
                if st != want:
                    raise BenchError(f"berth: {method} {path} with {label} answered {st}, "
                                     f"expected {want}")

    def record(self, metric, who, value):
        self.results.setdefault(metric, {})[who] = value

    # --- the run

    def run(self):
        a = self.a
        reps = a.reps
        log(f"work directory: {self.work}")

        # 1. cold start, before anything else runs
        for kind in ("berth", "reference"):
            times = []
            for i in range(5):
                srv, t = self.start_registry(kind, f"cold-{kind}-{i}")
                times.append(t)
                self.procs.stop(srv.proc)
            self.record("cold_start_ms", kind, statistics.median(times) * 1000)
            log(f"cold start {kind}: " + ", ".join(f"{t * 1000:.1f}" for t in times) + " ms")

        # 2. the big blob, the 1 KiB blob, and the two registries under test
        static = os.path.join(self.work, "static")
        big = os.path.join(static, "big.bin")
        small_path = os.path.join(static, "blob1k.bin")
        os.makedirs(static)
        with open(big, "wb") as f:
            for _ in range(a.big_mib):
                f.write(os.urandom(MIB))
        blob1k = random.Random(1024).randbytes(1024)
        blob1k_digest = sha(blob1k)
        with open(small_path, "wb") as f:
            f.write(blob1k)
        # nginx's workers do not run as root: let them reach the files
        for path, mode in ((self.work, 0o755), (static, 0o755), (big, 0o644), (small_path, 0o644)):
            os.chmod(path, mode)
        size = a.big_mib * MIB

        srv = {}
        for kind in ("berth", "reference"):
            srv[kind], _ = self.start_registry(kind, kind)
        time.sleep(1.0)
        for kind, s in srv.items():
            self.record("idle_rss_mib", kind, proc_status(s.proc.pid, "VmRSS") / 1024)
            self.record("idle_anon_mib", kind, proc_status(s.proc.pid, "RssAnon") / 1024)
            self.record("idle_pss_mib", kind, pss(s.proc.pid) / 1024)
        berth = srv["berth"]
        if a.berth_auth:
            dt = self.login(berth)
            self.record("login_s", "berth", dt)
            self.check_auth(berth, ["/v2/"])
            log(f"berth: registry token from aws ecr get-login-password in {dt:.2f} s; "
                f"/v2/ answers 401 without it and with a wrong one, 200 with it")
            self.notes.append(
                "berth ran with --auth=true; every request to it carried the registry token from "
                "`aws ecr get-login-password` as Basic credentials. Checked before the tests: "
                "`/v2/`, and later the manifest, the 1 KiB blob and tags/list, answer 401 without "
                "credentials and with a wrong token, 200 with the token. The reference has no "
                "authentication configured (it has none by default) and got no credentials")
        nginx = self.start_nginx(static)

        # 3. big pushes: a fresh blob (distinct first bytes) for every attempt, same bytes for
        # both; first the client-independent ceiling of hashing them on one core
        ossl = openssl_sha256_mibs(a.openssl, a.openssl_seconds)
        self.record("openssl_sha256_mibs", "openssl", ossl)
        log(f"openssl speed -evp sha256 (16 KiB blocks, one core): {ossl:.0f} MiB/s")
        fd = os.open(big, os.O_RDWR)
        try:
            for r in range(reps):
                for push in ("post_digest", "mono", "chunked"):
                    digest = set_variant(fd, size, f"{push}-{r}")
                    for kind in ("berth", "reference"):
                        if push == "post_digest" and kind != "berth":
                            continue
                        c = Client(srv[kind])
                        t0 = time.perf_counter()
                        if push == "mono":
                            push_post_put(c, "bench", fd, 0, size, digest)
                        elif push == "chunked":
                            push_chunked(c, "bench", fd, size, a.chunk_mib * MIB, digest)
                        else:
                            push_post_digest(c, "bench", fd, size, digest)
                        dt = time.perf_counter() - t0
                        check_blob(c, "bench", digest, size)
                        c.close()
                        self.record(f"push_{push}_runs", kind,
                                    self.results.get(f"push_{push}_runs", {}).get(kind, []) +
                                    [size / MIB / dt])
                        log(f"push {push} {kind} #{r + 1}: {size / MIB / dt:.0f} MiB/s")
                # the disk's own ceiling: copy the same bytes to a new file and fsync it
                mibs = disk_copy(fd, size, os.path.join(self.work, "data", "disk-copy"))
                self.record("push_disk_runs", "disk",
                            self.results.get("push_disk_runs", {}).get("disk", []) + [mibs])
                log(f"local copy + fsync #{r + 1}: {mibs:.0f} MiB/s")
            pull_digest = digest  # the last chunked push: in both registries, and the file on disk
        finally:
            os.close(fd)
        for push in ("mono", "chunked", "post_digest", "disk"):
            for kind, runs in self.results[f"push_{push}_runs"].items():
                self.record(f"push_{push}_mibs", kind, statistics.median(runs))

        # 4. pull: verify the bytes once (also warms the page cache), then time it
        want = sha256_file(big)
        if "sha256:" + want != pull_digest:
            raise BenchError("local digest mismatch")
        urls = {k: (f"{s.base}/v2/bench/blobs/{pull_digest}", s.curl_header)
                for k, s in srv.items()}
        urls["nginx"] = (f"{nginx.base}/big.bin", None)
        for who, (url, hdr) in urls.items():
            got = curl_sha256(url, hdr)
            if got != want:
                raise BenchError(f"{who}: pulled blob has sha256 {got}, expected {want}")
        for streams in (1, a.streams):
            runs = {}
            for r in range(reps):
                for who, (url, hdr) in urls.items():
                    mibs = curl_pull(url, size, streams, hdr)
                    runs.setdefault(who, []).append(mibs)
                    log(f"pull x{streams} {who} #{r + 1}: {mibs:.0f} MiB/s")
            for who, v in runs.items():
                self.record(f"pull{streams}_mibs", who, statistics.median(v))
                self.record(f"pull{streams}_runs", who, v)

        # 5. a small image in "bench" whose layer is the big blob, and the 1 KiB blob: manifest
        # GET, blob GET and HEAD, each against nginx serving the same kind of bytes statically
        cfg = json.dumps({"architecture": "amd64", "os": "linux",
                          "rootfs": {"type": "layers", "diff_ids": [pull_digest]}}).encode()
        cfg_digest = sha(cfg)
        man = manifest(cfg_digest, len(cfg), [(pull_digest, size)])
        man_path = "/v2/bench/manifests/latest"
        blob1k_path = f"/v2/bench/blobs/{blob1k_digest}"
        for kind, s in srv.items():
            c = Client(s)
            upload_small(c, "bench", cfg, cfg_digest)
            upload_small(c, "bench", blob1k, blob1k_digest)
            put_manifest(c, "bench", "latest", man)
            st, hdr, body = c.req("GET", man_path, {"Accept": OCI_MANIFEST})
            if st != 200 or body != man:
                raise BenchError(f"{kind}: GET manifest answered {st} / different bytes")
            st, hdr, body = c.req("GET", blob1k_path)
            if st != 200 or body != blob1k:
                raise BenchError(f"{kind}: GET 1 KiB blob answered {st} / different bytes")
            c.close()
        c = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=30)
        c.request("GET", "/blob1k.bin")
        r = c.getresponse()
        if r.status != 200 or r.read() != blob1k:
            raise BenchError(f"nginx: GET /blob1k.bin answered {r.status} / different bytes")
        c.close()
        if a.berth_auth:
            self.check_auth(berth, [man_path, blob1k_path])

        w = self.wrk(nginx, "/blob1k.bin", "auth.lua")
        self.record("static_get_rps", "nginx", w["rps"])
        self.record("static_get_p99_ms", "nginx", w["p99"])
        log(f"1 KiB static GET nginx: {w['rps']:.0f} req/s, p99 {w['p99']:.2f} ms")
        for kind, s in srv.items():
            w = self.wrk(s, man_path, "manifest.lua")
            self.record("manifest_get_rps", kind, w["rps"])
            self.record("manifest_get_p99_ms", kind, w["p99"])
            self.record("manifest_get_cpu_us", kind, w["cpu_us"])
            self.record("manifest_get_requests", kind, w["requests"])
            log(f"manifest GET {kind}: {w['rps']:.0f} req/s, p99 {w['p99']:.2f} ms, "
                f"{w['cpu_us']:.1f} us server CPU per request")
        for kind, s in srv.items():
            w = self.wrk(s, blob1k_path, "auth.lua")
            self.record("blob_get_rps", kind, w["rps"])
            self.record("blob_get_p99_ms", kind, w["p99"])
            self.record("blob_get_cpu_us", kind, w["cpu_us"])
            log(f"1 KiB blob GET {kind}: {w['rps']:.0f} req/s, p99 {w['p99']:.2f} ms")
        # wrk cannot do HEAD (it waits for the body the Content-Length announces): ab can
        for who, s, path in (("nginx", nginx, "/blob1k.bin"), ("berth", berth, blob1k_path),
                             ("reference", srv["reference"], blob1k_path)):
            h = self.ab_head(s, path)
            self.record("blob_head_rps", who, h["rps"])
            self.record("blob_head_p99_ms", who, h["p99"])
            if h.get("cpu_us") is not None:
                self.record("blob_head_cpu_us", who, h["cpu_us"])
            log(f"1 KiB blob HEAD {who}: {h['rps']:.0f} req/s, p99 {h['p99']:.2f} ms")

        # 6. 200 small, unique images with 8 workers
        rng = random.Random(1)
        images = []
        for i in range(a.images):
            layer = rng.randbytes(a.layer_bytes)
            ld = sha(layer)
            cfg = json.dumps({"architecture": "amd64", "os": "linux", "created": f"image {i}",
                              "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode()
            cd = sha(cfg)
            images.append((f"i{i:04d}", cfg, cd, layer, ld, manifest(cd, len(cfg), [(ld, len(layer))])))

        def push_image(c, item):
            tag, cfg, cd, layer, ld, man = item
            upload_small(c, "small", cfg, cd)
            upload_small(c, "small", layer, ld)
            put_manifest(c, "small", tag, man)

        for kind, s in srv.items():
            dt = parallel(s, images, push_image, a.workers)
            self.record("small_push_ips", kind, a.images / dt)
            self.record("small_push_s", kind, dt)
            log(f"{a.images} image pushes {kind}: {dt:.2f} s, {a.images / dt:.1f} images/s")

        # 7. tags/list of a repository with 5000 tags
        layer = rng.randbytes(a.layer_bytes)
        ld = sha(layer)
        cfg = json.dumps({"architecture": "amd64", "os": "linux",
                          "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode()
        cd = sha(cfg)
        tman = manifest(cd, len(cfg), [(ld, len(layer))])
        tags = [f"t{i:05d}" for i in range(a.tags)]
        tags_path = f"/v2/tags/tags/list?n={a.tags}"
        page_path = f"/v2/tags/tags/list?n={a.tags_page}"
        for kind, s in srv.items():
            c = Client(s)
            upload_small(c, "tags", cfg, cd)
            upload_small(c, "tags", layer, ld)
            c.close()
            dt = parallel(s, tags, lambda c, t: put_manifest(c, "tags", t, tman), a.workers)
            self.record("tag_put_rps", kind, a.tags / dt)
            log(f"{a.tags} tag PUTs {kind}: {dt:.2f} s, {a.tags / dt:.0f} req/s")
            c = Client(s)
            st, _, body = c.req("GET", tags_path)
            c.close()
            if st != 200:
                raise BenchError(f"{kind}: tags/list answered {st}: {body[:300]!r}")
            got = json.loads(body).get("tags") or []
            if sorted(got) != tags:
                raise BenchError(f"{kind}: tags/list returned {len(got)} tags, expected {a.tags}")
        if a.berth_auth:
            self.check_auth(berth, [page_path])
        for kind, s in srv.items():
            w = self.wrk(s, tags_path, "auth.lua")
            self.record("tags_list_rps", kind, w["rps"])
            self.record("tags_list_p99_ms", kind, w["p99"])
            log(f"tags/list {kind}: {w['rps']:.0f} req/s, p99 {w['p99']:.2f} ms")

        def check_tags(kind, n):
            def check(body):
                got = json.loads(body).get("tags") or []
                if len(got) == min(n, a.tags) and set(got) <= set(tags):
                    return
                if kind == "reference" and sorted(got) == tags:
                    self.notes.append(f"reference: tags/list ?n={n} returned all {len(got)} tags "
                                      "(distribution 2.8 does not paginate tags/list)")
                    return
                raise BenchError(f"{kind}: tags/list ?n={n} returned {len(got)} tags")
            return check

        for key, path, n in (("tags_full", tags_path, a.tags), ("tags_page", page_path, a.tags_page)):
            for kind, s in srv.items():
                lat = self.seq_latency(s, path, check_tags(kind, n))
                self.record(f"{key}_mean_ms", kind, statistics.mean(lat) * 1000)
                self.record(f"{key}_p99_ms", kind, percentile(lat, 99) * 1000)
                log(f"tags/list ?n={n} {kind}: {len(lat)} requests, "
                    f"mean {statistics.mean(lat) * 1000:.3f} ms, p99 {percentile(lat, 99) * 1000:.3f} ms")

        # 8. catalog of 2000 repositories, one small image each
        repos = [f"cat/r{i:04d}" for i in range(a.repos)]
        all_repos = set(repos) | {"bench", "small", "tags"}

        def push_repo(c, repo):
            upload_small(c, repo, cfg, cd)
            upload_small(c, repo, layer, ld)
            put_manifest(c, repo, "latest", tman)

        for kind, s in srv.items():
            dt = parallel(s, repos, push_repo, a.workers)
            self.record("repo_push_ips", kind, a.repos / dt)
            log(f"{a.repos} repositories {kind}: {dt:.2f} s")

        def check_catalog(kind, n):
            def check(body):
                got = json.loads(body).get("repositories") or []
                if len(got) != min(n, len(all_repos)) or not set(got) <= all_repos:
                    raise BenchError(f"{kind}: catalog ?n={n} returned {len(got)} repositories")
                if n == a.repos and not set(repos[:a.repos - 3]) <= set(got):
                    raise BenchError(f"{kind}: catalog ?n={n} lacks repositories it should list")
            return check

        for key, n in (("catalog", a.repos), ("catalog_page", a.catalog_page)):
            for kind, s in srv.items():
                lat = self.seq_latency(s, f"/v2/_catalog?n={n}", check_catalog(kind, n))
                self.record(f"{key}_mean_ms", kind, statistics.mean(lat) * 1000)
                self.record(f"{key}_p99_ms", kind, percentile(lat, 99) * 1000)
                log(f"catalog ?n={n} {kind}: {len(lat)} requests, "
                    f"mean {statistics.mean(lat) * 1000:.3f} ms, p99 {percentile(lat, 99) * 1000:.3f} ms")

        # 9. memory at the end
        for kind, s in srv.items():
            if s.proc.poll() is not None:
                raise BenchError(f"{kind} died during the run; log:\n{tail(s.logpath)}")
            self.record("peak_rss_mib", kind, proc_status(s.proc.pid, "VmHWM") / 1024)
            self.record("end_rss_mib", kind, proc_status(s.proc.pid, "VmRSS") / 1024)
        for kind, s in srv.items():
            self.procs.stop(s.proc)
            if kind == "berth" and s.proc.returncode not in (0, -signal.SIGTERM):
                raise BenchError(f"berth exited with {s.proc.returncode} on SIGTERM")
        self.procs.stop(nginx.proc)
        self.server_logs = {k: s.logpath for k, s in srv.items()}
        self.usage_note(berth)

    def usage_note(self, s):
        """Berth's own count of the manifest GETs it answered (pulls, written at shutdown),
        beside what wrk completed: the requests wrk counted were served, not refused."""
        p = subprocess.run([self.a.berth, "admin", "usage", "--data-dir", s.data, "--format", "json"],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            self.notes.append(f"berth admin usage failed ({p.returncode}): {p.stderr.strip()[:200]}")
            return
        repos = {r.get("name"): r for r in json.loads(p.stdout).get("repositories", [])}
        pulls = repos.get("bench", {}).get("pulls_30d")
        served = self.results.get("manifest_get_requests", {}).get("berth")
        if pulls is None or served is None:
            return
        ok = "" if pulls >= served else " (FEWER than wrk completed: check the run)"
        self.record("usage_bench_pulls", "berth", pulls)
        self.notes.append(f"berth's usage counters (`berth admin usage`, after shutdown) record "
                          f"{pulls} pulls (manifest GETs answered 200) of `bench`; wrk completed "
                          f"{served} authenticated manifest GETs{ok}")

    def ab_head(self, s, path):
        """HEAD requests/s and p99 (ms) with ApacheBench: keep-alive, same concurrency as wrk."""
        url = s.base + path
        argv = [self.a.ab, "-k", "-i", "-q", "-c", str(self.a.wrk_conns),
                "-t", str(self.a.wrk_seconds), "-n", "100000000"]
        if s.auth:
            argv += ["-H", f"Authorization: {s.auth}"]
        argv.append(url)
        cpu0 = proc_cpu_seconds(s.proc.pid) if s.kind != "nginx" else None
        p = subprocess.run(argv, capture_output=True, text=True, timeout=self.a.wrk_seconds + 60)
        cpu = proc_cpu_seconds(s.proc.pid) - cpu0 if cpu0 is not None else None
        out = p.stdout
        if p.returncode != 0:
            raise BenchError(f"ab failed ({p.returncode}): {p.stderr}{out}")
        for pat in (r"Failed requests:\s*(\d+)", r"Non-2xx responses:\s*(\d+)"):
            m = re.search(pat, out)
            if m and int(m.group(1)):
                raise BenchError(f"ab {url}: {m.group(0)}\n{out}")
        rps = float(re.search(r"Requests per second:\s*([\d.]+)", out).group(1))
        p99 = float(re.search(r"^\s*99%\s+(\d+)", out, re.M).group(1))
        done = int(re.search(r"Complete requests:\s*(\d+)", out).group(1))
        return {"rps": rps, "p99": p99, "requests": done,
                "cpu_us": cpu / done * 1e6 if cpu is not None and done else None}

    def wrk(self, s, path, script):
        """wrk -c64 -t2 --latency: requests/s, p99 (ms), requests completed and, for the
        registries, the server's CPU time (utime + stime) per completed request in us."""
        url = s.base + path
        argv = [self.a.wrk, "-c", str(self.a.wrk_conns), "-t", str(self.a.wrk_threads),
                "-d", f"{self.a.wrk_seconds}s", "--latency", "-s", os.path.join(HERE, script), url]
        env = {k: v for k, v in os.environ.items() if k != "BENCH_AUTH"}
        if s.auth:
            env["BENCH_AUTH"] = s.auth  # the scripts add it as the Authorization header
        cpu0 = proc_cpu_seconds(s.proc.pid) if s.kind != "nginx" else None
        p = subprocess.run(argv, capture_output=True, text=True, env=env,
                           timeout=self.a.wrk_seconds + 60)
        cpu = proc_cpu_seconds(s.proc.pid) - cpu0 if cpu0 is not None else None
        out = p.stdout
        if p.returncode != 0:
            raise BenchError(f"wrk failed ({p.returncode}): {p.stderr}{out}")
        m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
        if m:
            raise BenchError(f"wrk {url}: {m.group(1)} non-2xx responses\n{out}")
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        if m:
            c, r, w, t = map(int, m.groups())
            if c or r or w:
                raise BenchError(f"wrk {url}: socket errors\n{out}")
            if t:
                self.notes.append(f"{s.kind}: wrk {path}: {t} requests timed out (took over 2 s)")
        rps = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))
        done = int(re.search(r"(\d+) requests in", out).group(1))
        m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)]
        return {"rps": rps, "p99": p99, "requests": done,
                "cpu_us": cpu / done * 1e6 if cpu is not None and done else None}

    def seq_latency(self, s, path, check):
        """Latency of one GET at a time over one keep-alive connection: a first request (which
        opens the connection; its body is checked) untimed, then up to --latency-requests more
        within --latency-seconds (at least 5). Seconds per request."""
        c = RawClient(s.port, s.auth)
        try:
            st, _, body = c.request("GET", path)
            if st != 200:
                raise BenchError(f"{s.kind}: GET {path} answered {st}: {body[:300]!r}")
            check(body)
            size = len(body)
            lat = []
            gc.disable()
            try:
                t_end = time.perf_counter() + self.a.latency_seconds
                while len(lat) < 5 or (len(lat) < self.a.latency_requests and
                                       time.perf_counter() < t_end):
                    t0 = time.perf_counter()
                    st, _, body = c.request("GET", path)
                    lat.append(time.perf_counter() - t0)
                    if st != 200 or len(body) != size:
                        raise BenchError(f"{s.kind}: GET {path} answered {st} with {len(body)} "
                                         f"bytes (first answer: {size})")
            finally:
                gc.enable()
            return lat
        finally:
            c.close()


# ---------------------------------------------------------------- the HTTP clients

class Client:
    """One keep-alive HTTP/1.1 connection; bodies from files go out with sendfile(2). Every
    request carries the server's Authorization header, if it has one."""

    def __init__(self, srv):
        self.port = srv.port
        self.auth = srv.auth
        self.conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)

    def close(self):
        self.conn.close()

    def req(self, method, path, headers=None, body=None):
        h = dict(headers or {})
        if self.auth:
            h["Authorization"] = self.auth
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        data = r.read()
        return r.status, r.headers, data

    def req_file(self, method, path, fd, offset, count, headers=None):
        c = self.conn
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        if self.auth:
            c.putheader("Authorization", self.auth)
        c.putheader("Content-Length", str(count))
        c.endheaders()
        with os.fdopen(fd, "rb", closefd=False) as f:
            sent = c.sock.sendfile(f, offset, count)  # sendfile(2), waiting out EAGAIN
        if sent != count:
            raise BenchError(f"sent {sent} of {count} bytes")
        r = c.getresponse()
        data = r.read()
        return r.status, r.headers, data


class RawClient:
    """A lean keep-alive HTTP/1.1 client for latency tests: the request bytes are built once,
    the response is read straight off the socket (Content-Length or chunked), so that the
    client adds as little as it can to each measured request."""

    def __init__(self, port, auth=None):
        self.port, self.auth = port, auth
        self.sock = None
        self.buf = bytearray()
        self.reqs = {}

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _fill(self):
        b = self.sock.recv(262144)
        if not b:
            raise BenchError(f"127.0.0.1:{self.port} closed the connection mid-response")
        self.buf += b

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            self._fill()

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def request(self, method, path):
        """(status, headers with lower-case names, body)."""
        req = self.reqs.get((method, path))
        if req is None:
            h = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            if self.auth:
                h += f"Authorization: {self.auth}\r\n"
            req = self.reqs[(method, path)] = (h + "\r\n").encode()
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buf = bytearray()
        self.sock.sendall(req)
        status = int(self._line().split()[1])
        headers = {}
        while True:
            line = self._line()
            if not line:
                break
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "content-length" in headers:
            body = self._take(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                n = int(self._line().split(b";")[0], 16)
                if n == 0:
                    while self._line():  # trailers, then the empty line
                        pass
                    break
                parts.append(self._take(n))
                self._take(2)
            body = b"".join(parts)
        else:  # the body ends when the server closes
            while True:
                b = self.sock.recv(262144)
                if not b:
                    break
                self.buf += b
            body = bytes(self.buf)
            self.close()
            return status, headers, body
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body


def loc_path(headers):
    loc = headers.get("Location")
    if not loc:
        raise BenchError("response without Location")
    u = urllib.parse.urlsplit(loc)
    return u.path + ("?" + u.query if u.query else "")


def with_digest(path, digest):
    return path + ("&" if "?" in path else "?") + "digest=" + digest


def expect(st, want, what, body=b""):
    if st != want:
        raise BenchError(f"{what}: expected {want}, got {st}: {body[:300]!r}")


def start_upload(c, repo):
    st, h, body = c.req("POST", f"/v2/{repo}/blobs/uploads/")
    expect(st, 202, f"POST /v2/{repo}/blobs/uploads/", body)
    return loc_path(h)


def push_post_put(c, repo, fd, offset, size, digest):
    """POST to open an upload, then PUT ?digest= with the whole blob."""
    loc = start_upload(c, repo)
    st, h, body = c.req_file("PUT", with_digest(loc, digest), fd, offset, size,
                             {"Content-Type": "application/octet-stream"})
    expect(st, 201, "PUT ?digest= (monolithic)", body)


def push_post_digest(c, repo, fd, size, digest):
    """One request: POST ?digest= with the whole blob."""
    st, h, body = c.req_file("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", fd, 0, size,
                             {"Content-Type": "application/octet-stream"})
    expect(st, 201, "POST ?digest=", body)


def push_chunked(c, repo, fd, size, chunk, digest):
    loc = start_upload(c, repo)
    off = 0
    while off < size:
        n = min(chunk, size - off)
        st, h, body = c.req_file("PATCH", loc, fd, off, n,
                                 {"Content-Type": "application/octet-stream",
                                  "Content-Range": f"{off}-{off + n - 1}"})
        expect(st, 202, f"PATCH {off}-{off + n - 1}", body)
        loc = loc_path(h)
        off += n
    st, h, body = c.req("PUT", with_digest(loc, digest), {"Content-Length": "0"})
    expect(st, 201, "PUT ?digest= (close chunked)", body)


def upload_small(c, repo, data, digest):
    loc = start_upload(c, repo)
    st, h, body = c.req("PUT", with_digest(loc, digest), {"Content-Type": "application/octet-stream"},
                        data)
    expect(st, 201, f"PUT blob {digest[:19]} to {repo}", body)


def put_manifest(c, repo, ref, man):
    st, h, body = c.req("PUT", f"/v2/{repo}/manifests/{ref}", {"Content-Type": OCI_MANIFEST}, man)
    expect(st, 201, f"PUT /v2/{repo}/manifests/{ref}", body)


def check_blob(c, repo, digest, size):
    st, h, body = c.req("HEAD", f"/v2/{repo}/blobs/{digest}")
    expect(st, 200, f"HEAD blob {digest}")
    if int(h.get("Content-Length", -1)) != size:
        raise BenchError(f"HEAD blob {digest}: Content-Length {h.get('Content-Length')}, want {size}")


def manifest(cfg_digest, cfg_size, layers):
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": cfg_digest, "size": cfg_size},
        "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": n} for d, n in layers],
    }, separators=(",", ":")).encode()


def parallel(srv, items, fn, workers):
    """Runs fn(client, item) over items with `workers` threads, one connection each; seconds."""
    shards = [items[i::workers] for i in range(workers)]
    errors = []

    def work(shard):
        c = Client(srv)
        try:
            for it in shard:
                if errors:
                    return
                fn(c, it)
        except Exception as e:  # the first failure stops the others
            errors.append(e)
        finally:
            c.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=work, args=(s,)) for s in shards]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return dt


# ---------------------------------------------------------------- pulls

def curl_args(header_file):
    return ["-H", "@" + header_file] if header_file else []


def curl_sha256(url, header_file=None):
    curl = subprocess.Popen(["curl", "-sSf"] + curl_args(header_file) + [url], stdout=subprocess.PIPE)
    h = hashlib.sha256()
    while True:
        b = curl.stdout.read(4 * MIB)
        if not b:
            break
        h.update(b)
    if curl.wait(timeout=120) != 0:
        raise BenchError(f"curl {url} failed")
    return h.hexdigest()


def curl_pull(url, size, streams, header_file=None):
    """Aggregate MiB/s of `streams` concurrent `curl -o /dev/null` of the same URL."""
    argv = (["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}"] +
            curl_args(header_file) + [url])
    t0 = time.perf_counter()
    ps = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(streams)]
    outs = [p.communicate(timeout=300)[0] for p in ps]
    dt = time.perf_counter() - t0
    for p, out in zip(ps, outs):
        if p.returncode != 0 or out.split() != ["200", str(size)]:
            raise BenchError(f"pull {url}: curl exit {p.returncode}, got '{out}'")
    return streams * size / MIB / dt


# ---------------------------------------------------------------- helpers

def openssl_sha256_mibs(openssl, seconds):
    """SHA-256 throughput of one core in MiB/s: `openssl speed -evp sha256` on 16 KiB blocks
    (single-threaded; per CPU second it got, so other load on the machine does not lower it)."""
    argv = [openssl, "speed", "-mr", "-seconds", str(seconds), "-bytes", "16384", "-evp", "sha256"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=seconds * 4 + 60)
    m = re.search(r"^\+F:\d+:sha256:([\d.]+)", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise BenchError(f"openssl speed failed ({p.returncode}): {p.stderr.strip()[:300]}"
                         f"{p.stdout.strip()[-300:]}")
    return float(m.group(1)) / MIB  # -mr prints bytes per second


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MIB)
            if not b:
                return h.hexdigest()
            h.update(b)


def set_variant(fd, size, label):
    """Makes the big file a new blob by rewriting its first 32 bytes; returns its digest."""
    os.pwrite(fd, label.encode().ljust(32, b"\0")[:32], 0)
    h = hashlib.sha256()
    off = 0
    while off < size:
        b = os.pread(fd, min(8 * MIB, size - off), off)
        h.update(b)
        off += len(b)
    return "sha256:" + h.hexdigest()


def disk_copy(fd, size, path):
    """MiB/s of writing the big file to a new file in 1 MiB writes, then fsync: what any
    server that stores a pushed blob durably has to do at least."""
    buf = bytearray(MIB)
    t0 = time.perf_counter()
    out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        off = 0
        while off < size:
            n = os.preadv(fd, [buf], off)
            os.write(out, memoryview(buf)[:n])
            off += n
        os.fsync(out)
    finally:
        os.close(out)
    dt = time.perf_counter() - t0
    os.unlink(path)
    return size / MIB / dt


def cpu_busy_seconds():
    """CPU seconds spent not idle, over all CPUs, since boot (from /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal guest guest_nice
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
    return busy / CLK_TCK


def percentile(xs, p):
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: berth-bench-not-a-secret
catalog:
  maxentries: 10000
"""

NGINX_CONFIG = """\
daemon off;
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 100000000;
    default_type application/octet-stream;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


# ---------------------------------------------------------------- the table

ROWS = [
    # key, label, unit, higher is better, fmt, throughput target (core registry)
    ("push_mono_mibs", "push {big} MiB, POST + PUT ?digest= (monolithic)", "MiB/s", True, "{:.0f}", True),
    ("push_post_digest_mibs", "push {big} MiB, single POST ?digest=", "MiB/s", True, "{:.0f}", False),
    ("push_chunked_mibs", "push {big} MiB, {chunk} MiB PATCH chunks + PUT", "MiB/s", True, "{:.0f}", True),
    ("pull1_mibs", "pull {big} MiB, 1 stream", "MiB/s", True, "{:.0f}", True),
    ("pull16_mibs", "pull {big} MiB, {streams} streams (aggregate)", "MiB/s", True, "{:.0f}", True),
    ("manifest_get_rps", "manifest GET by tag (wrk -c{conns})", "req/s", True, "{:.0f}", True),
    ("manifest_get_p99_ms", "manifest GET p99 latency", "ms", False, "{:.2f}", False),
    ("manifest_get_cpu_us", "manifest GET, server CPU per request (utime+stime)", "us", False, "{:.1f}", False),
    ("blob_get_rps", "1 KiB blob GET (wrk -c{conns})", "req/s", True, "{:.0f}", False),
    ("blob_get_p99_ms", "1 KiB blob GET p99 latency", "ms", False, "{:.2f}", False),
    ("blob_head_rps", "1 KiB blob HEAD (ab -k -c{conns})", "req/s", True, "{:.0f}", True),
    ("blob_head_p99_ms", "1 KiB blob HEAD p99 latency (ab: whole ms)", "ms", False, "{:.2f}", False),
    ("small_push_ips", "{images} small image pushes, {workers} workers", "images/s", True, "{:.1f}", True),
    ("small_push_s", "{images} small image pushes, total time", "s", False, "{:.2f}", False),
    ("tag_put_rps", "manifest PUT under a new tag, {workers} workers", "req/s", True, "{:.0f}", True),
    ("tags_list_rps", "tags/list ?n={tags} (wrk -c{conns})", "req/s", True, "{:.1f}", True),
    ("tags_list_p99_ms", "tags/list ?n={tags} p99 latency (wrk)", "ms", False, "{:.1f}", False),
    ("tags_full_mean_ms", "tags/list ?n={tags}, mean latency (1 client)", "ms", False, "{:.3f}", False),
    ("tags_full_p99_ms", "tags/list ?n={tags}, p99 latency (1 client)", "ms", False, "{:.3f}", False),
    ("tags_page_mean_ms", "tags/list ?n={tpage} of {tags}, mean latency (1 client)", "ms", False, "{:.3f}", False),
    ("tags_page_p99_ms", "tags/list ?n={tpage} of {tags}, p99 latency (1 client)", "ms", False, "{:.3f}", False),
    ("repo_push_ips", "one-image repository creation, {workers} workers", "repos/s", True, "{:.1f}", True),
    ("catalog_mean_ms", "catalog ?n={repos}, mean latency (1 client)", "ms", False, "{:.3f}", False),
    ("catalog_p99_ms", "catalog ?n={repos}, p99 latency (1 client)", "ms", False, "{:.3f}", False),
    ("catalog_page_mean_ms", "catalog ?n={cpage} of {nrepos} repos, mean latency (1 client)", "ms", False, "{:.3f}", False),
    ("catalog_page_p99_ms", "catalog ?n={cpage} of {nrepos} repos, p99 latency (1 client)", "ms", False, "{:.3f}", False),
    ("idle_rss_mib", "idle RSS (VmRSS) 1 s after start", "MiB", False, "{:.1f}", False),
    ("idle_anon_mib", "idle RssAnon (anonymous memory only)", "MiB", False, "{:.1f}", False),
    ("idle_pss_mib", "idle PSS (shared pages divided among users)", "MiB", False, "{:.1f}", False),
    ("peak_rss_mib", "peak RSS (VmHWM) at the end", "MiB", False, "{:.1f}", False),
    ("cold_start_ms", "cold start to ready on /v2/ (median of 5; see notes)", "ms", False, "{:.1f}", False),
]


def render(b, a):
    """The table, the comparisons with nginx, openssl and the disk, and both target lists;
    also returns the target verdicts for the JSON output."""
    res = b.results
    val = lambda key, who: res.get(key, {}).get(who)  # noqa: E731
    lines = []
    lines.append("| metric | unit | berth | reference | ratio | ratio is |")
    lines.append("|---|---|---:|---:|---:|---|")
    core = []
    names = {"big": a.big_mib, "chunk": a.chunk_mib, "streams": a.streams, "conns": a.wrk_conns,
             "images": a.images, "workers": a.workers, "tags": a.tags, "repos": a.repos,
             "tpage": a.tags_page, "cpage": a.catalog_page, "nrepos": a.repos + 3}
    for key, label, unit, higher, fmt, target in ROWS:
        label = label.format(**names)
        key = key.replace("pull16_", f"pull{a.streams}_")  # --streams
        bv, rv = val(key, "berth"), val(key, "reference")
        bs = fmt.format(bv) if bv is not None else "n/a"
        rs = fmt.format(rv) if rv is not None else "n/a"
        ratio = None
        if bv is not None and rv is not None and bv > 0 and rv > 0:
            ratio = bv / rv if higher else rv / bv
        rtxt = f"{ratio:.2f}x" if ratio is not None else "-"
        direction = "berth/ref (higher is better)" if higher else "ref/berth (lower is better)"
        if key == "push_post_digest_mibs":
            rs = "n/a (no single-request push)"
            if bv and val("push_mono_mibs", "reference"):
                ratio = bv / val("push_mono_mibs", "reference")
                rtxt = f"{ratio:.2f}x"
                direction = "vs reference POST + PUT"
        lines.append(f"| {label} | {unit} | {bs} | {rs} | {rtxt} | {direction} |")
        if target and ratio is not None:
            core.append((f"{label}: {ratio:.2f}x (target >= 1.5x)", ratio >= 1.5))

    # against nginx serving the same kind of bytes, with the same client and settings
    lines.append("")
    lines.append("| vs nginx (same client, same settings) | unit | nginx | berth | berth/nginx | "
                 "reference | ref/nginx |")
    lines.append("|---|---|---:|---:|---:|---:|---:|")
    vs_nginx = (
        ("manifest GET vs 1 KiB static GET (wrk)", "req/s", "manifest_get_rps", "static_get_rps"),
        ("1 KiB blob GET vs the same file (wrk)", "req/s", "blob_get_rps", "static_get_rps"),
        ("1 KiB blob HEAD vs the same file (ab)", "req/s", "blob_head_rps", "blob_head_rps"),
        ("pull 1 stream (curl)", "MiB/s", "pull1_mibs", "pull1_mibs"),
        (f"pull {a.streams} streams (curl)", "MiB/s", f"pull{a.streams}_mibs", f"pull{a.streams}_mibs"),
    )
    for label, unit, key, nkey in vs_nginx:
        n, bv, rv = val(nkey, "nginx"), val(key, "berth"), val(key, "reference")
        if n and bv and rv:
            lines.append(f"| {label} | {unit} | {n:.0f} | {bv:.0f} | {bv / n:.2f}x | "
                         f"{rv:.0f} | {rv / n:.2f}x |")
    for key, label in (("pull1_mibs", "1 stream"), (f"pull{a.streams}_mibs", f"{a.streams} streams")):
        n, bv = val(key, "nginx"), val(key, "berth")
        if n and bv:
            core.append((f"pull {label}: berth {bv / n * 100:.0f}% of nginx (target >= 80%)",
                         bv / n >= 0.8))

    # pushes against hashing the bytes on one core, and against the disk
    ossl = val("openssl_sha256_mibs", "openssl")
    pushes = (("POST + PUT (monolithic)", "push_mono_mibs"), ("single POST ?digest=", "push_post_digest_mibs"),
              ("chunked", "push_chunked_mibs"))
    if ossl:
        lines.append("")
        lines.append("| push vs sha256 on one core (openssl speed) | unit | openssl | berth | "
                     "berth/openssl | reference | ref/openssl |")
        lines.append("|---|---|---:|---:|---:|---:|---:|")
        for label, key in pushes:
            bv, rv = val(key, "berth"), val(key, "reference")
            if bv:
                rtxt = (f"{rv:.0f} | {rv / ossl:.2f}x" if rv else "n/a | -")
                lines.append(f"| {label} | MiB/s | {ossl:.0f} | {bv:.0f} | {bv / ossl:.2f}x | {rtxt} |")
    d = val("push_disk_mibs", "disk")
    if d:
        lines.append("")
        lines.append("| push vs the disk (same bytes) | unit | local copy + fsync | berth | "
                     "berth/disk | reference | ref/disk |")
        lines.append("|---|---|---:|---:|---:|---:|---:|")
        for label, key in (("POST + PUT", "push_mono_mibs"), ("chunked", "push_chunked_mibs")):
            bv, rv = val(key, "berth"), val(key, "reference")
            if bv and rv:
                lines.append(f"| {label} | MiB/s | {d:.0f} | {bv:.0f} | {bv / d * 100:.0f}% | "
                             f"{rv:.0f} | {rv / d * 100:.0f}% |")
    irss = res.get("idle_rss_mib", {})
    if irss.get("berth") and irss.get("reference"):
        q = irss["berth"] / irss["reference"]
        core.append((f"idle RSS: berth {irss['berth']:.1f} MiB = 1/{1 / q:.1f} of reference "
                     f"{irss['reference']:.1f} MiB (target <= 1/5)", q <= 0.2))

    perf = performance_targets(res, a)
    lines.append("")
    lines.append("Targets (core registry):")
    for text, ok in core:
        lines.append(f"- [{'met' if ok else 'NOT met'}] {text}")
    lines.append("")
    lines.append("Targets (performance):")
    for text, ok in perf:
        lines.append(f"- [{'n/a' if ok is None else 'met' if ok else 'NOT met'}] {text}")
    verdicts = ([{"section": "core registry", "target": t, "met": ok} for t, ok in core] +
                [{"section": "performance", "target": t, "met": ok} for t, ok in perf])
    return "\n".join(lines), verdicts


def performance_targets(res, a):
    """(text, met) per target of the performance table; met is None when it was not measured."""
    val = lambda key, who: res.get(key, {}).get(who)  # noqa: E731
    out = []

    def vs(what, bv, base, base_what, unit, want):
        if bv is None or not base:
            out.append((f"{what}: not measured (target >= {want}x {base_what})", None))
            return
        q = bv / base
        out.append((f"{what}: berth {bv:.0f} {unit} = {q:.2f}x {base_what} {base:.0f} {unit} "
                    f"(target >= {want}x)", q >= want))

    def most(what, v, limit, unit, fmt="{:.2f}", extra=""):
        if v is None:
            out.append((f"{what}: not measured (target <= {limit} {unit})", None))
            return
        out.append((f"{what}: {fmt.format(v)} {unit}{extra} (target <= {limit} {unit})", v <= limit))

    def latency(what, key, limit):
        mean, p99 = val(f"{key}_mean_ms", "berth"), val(f"{key}_p99_ms", "berth")
        if mean is None or p99 is None:
            out.append((f"{what}: not measured (target <= {limit} ms)", None))
            return
        out.append((f"{what}: mean {mean:.3f} ms, p99 {p99:.3f} ms (target <= {limit} ms, judged "
                    f"on the mean; the p99 is {'within' if p99 <= limit else 'over'} the limit)",
                    mean <= limit))

    nstatic = val("static_get_rps", "nginx")
    vs(f"manifest GET by tag, wrk -c{a.wrk_conns}", val("manifest_get_rps", "berth"), nstatic,
       "nginx 1 KiB static GET", "req/s", 0.5)
    most("manifest GET p99", val("manifest_get_p99_ms", "berth"), 10, "ms")
    vs("1 KiB blob HEAD (ab)", val("blob_head_rps", "berth"), val("blob_head_rps", "nginx"),
       "nginx HEAD of the same file", "req/s", 0.5)
    vs("1 KiB blob GET (wrk)", val("blob_get_rps", "berth"), nstatic,
       "nginx GET of the same file", "req/s", 0.5)
    ossl = val("openssl_sha256_mibs", "openssl")
    vs(f"monolithic push of {a.big_mib} MiB (POST + PUT)", val("push_mono_mibs", "berth"), ossl,
       "openssl sha256 on one core", "MiB/s", 0.6)
    vs(f"chunked push ({a.chunk_mib} MiB PATCHes)", val("push_chunked_mibs", "berth"), ossl,
       "openssl sha256 on one core", "MiB/s", 0.5)
    for streams in (1, a.streams):
        key = f"pull{streams}_mibs"
        vs(f"pull of {a.big_mib} MiB, {streams} stream{'s' if streams > 1 else ''}",
           val(key, "berth"), val(key, "nginx"), "nginx sendfile", "MiB/s", 0.95)
    bv, rv = val("small_push_ips", "berth"), val("small_push_ips", "reference")
    if bv and rv:
        out.append((f"{a.images} small images by {a.workers} workers: berth {bv:.1f} images/s = "
                    f"{bv / rv:.2f}x the reference {rv:.1f} images/s (target >= 10x)", bv / rv >= 10))
    else:
        out.append(("small image pushes: not measured (target >= 10x the reference)", None))
    latency(f"tags/list of {a.tags} tags (?n={a.tags}), 1 client", "tags_full", 2)
    latency(f"tags/list ?n={a.tags_page} page, 1 client", "tags_page", 0.5)
    latency(f"catalog ?n={a.catalog_page} of {a.repos + 3} repositories, 1 client", "catalog_page", 5)
    most("idle RSS (VmRSS 1 s after start)", val("idle_rss_mib", "berth"), 4, "MiB", "{:.1f}")
    most("peak RSS (VmHWM at the end)", val("peak_rss_mib", "berth"), 40, "MiB", "{:.1f}")
    most("cold start to ready on /v2/" + (" (401 challenge, auth on)" if a.berth_auth else ""),
         val("cold_start_ms", "berth"), 10, "ms", "{:.1f}")
    rcpu = val("manifest_get_cpu_us", "reference")
    most("server CPU per " + ("authenticated " if a.berth_auth else "") + "manifest GET",
         val("manifest_get_cpu_us", "berth"), 50, "us", "{:.1f}",
         f" (reference: {rcpu:.1f} us)" if rcpu is not None else "")
    return out


EPILOG = """\
tests, in order (berth with --auth=true unless --berth-auth=false; the reference without auth):
  cold start      exec to ready on GET /v2/, 5 starts on an empty data dir each, median.
                  Ready: reference 200; berth 401 with a Basic challenge (auth on) or 200
  idle memory     VmRSS, RssAnon, PSS 1 s after the server first answered
  login           aws ecr get-login-password (AWS CLI v2, isolated config) with the bootstrap
                  admin key; every berth request then sends Basic base64(AWS:<token>)
  openssl         openssl speed -evp sha256, 16 KiB blocks, one core: the push ceiling
  push            BIG MiB: POST + PUT ?digest=, single POST ?digest= (berth), 16 MiB PATCHes
  pull            curl -o /dev/null, 1 and 16 streams, registries and nginx (same file)
  manifest GET    wrk -c64 by tag, with server CPU (utime+stime) per completed request;
                  nginx's GET of a 1 KiB static file with the same wrk settings as the base
  1 KiB blob      GET with wrk -c64 and HEAD with ab -k -i -c64: nginx (the same bytes as a
                  static file), berth, reference
  small images    200 images (config, 4 KiB layer, manifest) by 8 workers
  tags/list       5000 tags (PUT by 8 workers), wrk on ?n=5000, then one keep-alive client,
                  sequential, on ?n=5000 and ?n=100: mean and p99
  catalog         2000 one-image repositories, one client, sequential, ?n=2000 and ?n=1000
  peak memory     VmHWM at the end
Prints one table (berth, reference, ratio), comparisons with nginx, openssl and the disk, and
the "Targets (core registry)" and "Targets (performance)" sections. Timings never fail the
run. See bench/README.md.
"""


def main():
    p = argparse.ArgumentParser(description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--berth", required=True, help="the berth binary")
    p.add_argument("--registry", required=True, help="the docker-registry binary")
    p.add_argument("--nginx", required=True, help="the nginx binary")
    p.add_argument("--wrk", default="wrk")
    p.add_argument("--ab", default="ab")
    p.add_argument("--aws", default="/usr/bin/aws",
                   help="the AWS CLI v2, for get-login-password (default /usr/bin/aws)")
    p.add_argument("--openssl", default="openssl")
    p.add_argument("--work", required=True, help="an empty work directory")
    env = os.environ.get
    p.add_argument("--berth-auth", default="true", choices=("true", "false"),
                   help="start berth with --auth=true (default) or false (the reference has no auth)")
    p.add_argument("--reps", type=int, default=int(env("BENCH_REPS", 3)),
                   help="runs of each big push and pull test, median reported (BENCH_REPS, 3)")
    p.add_argument("--big-mib", type=int, default=int(env("BENCH_BIG_MIB", 256)),
                   help="size of the big blob (BENCH_BIG_MIB, 256)")
    p.add_argument("--chunk-mib", type=int, default=16, help="PATCH size of chunked pushes")
    p.add_argument("--streams", type=int, default=16, help="parallel pull streams")
    p.add_argument("--wrk-seconds", type=int, default=int(env("BENCH_WRK_SECONDS", 10)),
                   help="length of each wrk and ab test (BENCH_WRK_SECONDS, 10)")
    p.add_argument("--wrk-conns", type=int, default=64, help="wrk and ab connections")
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--openssl-seconds", type=int, default=3, help="length of openssl speed")
    p.add_argument("--images", type=int, default=200, help="small images to push")
    p.add_argument("--layer-bytes", type=int, default=4096)
    p.add_argument("--workers", type=int, default=8, help="push worker threads")
    p.add_argument("--tags", type=int, default=5000, help="tags in the tags/list repository")
    p.add_argument("--tags-page", type=int, default=100, help="n of the tags/list page test")
    p.add_argument("--repos", type=int, default=2000, help="one-image repositories for the catalog")
    p.add_argument("--catalog-page", type=int, default=1000, help="n of the catalog page test")
    p.add_argument("--latency-requests", "--catalog-requests", type=int, default=200,
                   help="requests per sequential latency test (tags/list, catalog)")
    p.add_argument("--latency-seconds", "--catalog-seconds", type=float, default=10,
                   help="time bound of each sequential latency test")
    p.add_argument("--time-limit", type=int, default=int(env("BENCH_TIME_LIMIT", 1500)),
                   help="seconds after which the run gives up, as an error (BENCH_TIME_LIMIT)")
    p.add_argument("--json", help="also write the results, target verdicts, notes and settings "
                   "here (BENCH_JSON)")
    a = p.parse_args()
    a.berth_auth = a.berth_auth == "true"

    def on_signal(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    def on_alarm(signum, frame):
        raise BenchError(f"the run took longer than {a.time_limit} s")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(a.time_limit)

    b = Bench(a)
    t0 = time.time()
    load0 = open("/proc/loadavg").read().split()[:3]
    cpu0 = cpu_busy_seconds()
    rc = 0
    try:
        b.run()
    except BenchError as e:
        log(f"bench: error: {e}")
        rc = 1
    finally:
        b.procs.stop_all()
        signal.alarm(0)
    if rc == 0:
        for kind, path in getattr(b, "server_logs", {}).items():
            lines = [l for l in open(path, errors="replace") if l.strip()]
            if lines:
                b.notes.append(f"{kind} logged {len(lines)} line(s) at warn or above, first: "
                               f"{lines[0].strip()[:300]}")
    if a.berth_auth:
        b.notes.append("cold start: exec until GET /v2/ answers; the reference is ready at 200, "
                       "berth (auth on) at its 401 with the Basic challenge, the answer a client "
                       "logging in expects first. Berth's start includes creating the bootstrap "
                       "admin key and master key on the empty data dir, done before it listens")
    load1 = open("/proc/loadavg").read().split()[:3]
    ours = sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF,
               resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
    busy, wall = cpu_busy_seconds() - cpu0, time.time() - t0
    ncpu = os.cpu_count()
    other = max(0.0, busy - ours)
    b.notes.append(f"CPU time during the run: {busy:.0f} s busy of {wall * ncpu:.0f} s available "
                   f"({ncpu} CPUs x {wall:.0f} s); this benchmark and what it started used "
                   f"{ours:.0f} s, other work on the machine about {other:.0f} s "
                   f"({other / (wall * ncpu) * 100:.0f}% of the machine)")
    b.notes.append(f"load average (1/5/15 min) at start {' '.join(load0)}, at end {' '.join(load1)} "
                   f"on {os.cpu_count()} CPUs: anything above what this run adds is other work")
    table, verdicts = render(b, a)
    print()
    print(table)
    if b.notes:
        print("\nNotes:")
        for n in b.notes:
            print(f"- {n}")
    print(f"\nTotal time: {time.time() - t0:.0f} s. Throughput figures are the median of {a.reps} "
          f"runs; MiB = 2^20 bytes.")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"results": b.results, "targets": verdicts, "notes": b.notes,
                       "settings": {k: v for k, v in vars(a).items() if k != "json"}}, f, indent=2)
    return rc


if __name__ == "__main__":
    sys.exit(main())
