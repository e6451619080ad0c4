#!/usr/bin/env python3
"""How Berth's costs change with the size of the registry (the performance issue's scale test).

Started by bench/scale, which installs the tools and builds Berth. This program starts one
Berth (auth on, a bootstrap admin key it generates) on 127.0.0.1 with a fresh data directory
under the work directory, grows it in steps with bench/populate, and at each step measures:

- from one keep-alive client, sequentially: tags/list, catalog and DescribeImages pages (the
  first one and one from the middle), a manifest GET by tag and the referrers of an image
  (it has none), each `--samples` times after
  `--warmup` unmeasured requests: mean, p50, p99, max;
- `berth lifecycle run --repository R --dry-run` on repositories of fixed sizes (the
  `--lc-work` list: a policy over that many images), and `berth lifecycle run --dry-run` over
  every policy: wall time of the command, `--cli-reps` runs;
- a real `berth gc` right after the step's pushes (default grace, so nothing goes): the pass
  the server's hourly one would make, dropping the candidates the pushes recorded;
- `berth gc --gc-grace 0 --dry-run` with the first `--gc-work` amount of garbage (blobs no
  manifest references), then with each larger amount (added at this size), then a real
  `berth gc --gc-grace 0` that removes it all (timed too), after which the first amount is
  pushed again for the next step.

So every lifecycle and gc figure exists for several amounts of work at every size: along a
row the size is fixed and the work grows; down a column the work is fixed and the size grows.

Writes a JSON of every point (--json) and markdown tables (--markdown), and stops everything
it started. Exits non-zero when something fails (an unexpected answer, a server that dies),
never because of a timing.
"""

import argparse
import http.client
import importlib.machinery
import importlib.util
import json
import os
import random
import re
import resource
import signal
import socket
import statistics
import string
import subprocess
import sys
import time

from procs import Procs, tail  # bench/procs.py, shared with bench.py

HERE = os.path.dirname(os.path.abspath(__file__))
ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921."


def load_populate():
    path = os.path.join(HERE, "populate")
    loader = importlib.machinery.SourceFileLoader("populate", path)
    spec = importlib.util.spec_from_loader("populate", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


pop = load_populate()


class ScaleError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def percentile(xs, p):
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def summary_ms(times):
    ms = [t * 1000 for t in times]
    return {"n": len(ms), "mean": statistics.fmean(ms), "p50": percentile(ms, 50),
            "p99": percentile(ms, 99), "max": max(ms)}


def cpu_busy_seconds():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
    return busy / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port):
    """True once the server answers HTTP on the port (401 counts: auth is on)."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError:
        return False
    try:
        s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return s.recv(16).startswith(b"HTTP/1.1 ")
    except OSError:
        return False
    finally:
        s.close()


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def time_op(what, fn, check, warmup, samples):
    """Seconds of each of `samples` requests after `warmup` unmeasured ones; the first answer
    is checked, every answer must be 200."""
    times = []
    for i in range(warmup + samples):
        t0 = time.perf_counter()
        status, body = fn()
        dt = time.perf_counter() - t0
        if status != 200:
            raise ScaleError(f"{what}: HTTP {status} {body[:300]!r}")
        if i == 0:
            check(body)
        if i >= warmup:
            times.append(dt)
    return times


def random_key():
    key = "AKIA" + "".join(random.SystemRandom().choice(string.ascii_uppercase + string.digits)
                           for _ in range(16))
    secret = "".join(random.SystemRandom().choice(string.ascii_letters + string.digits + "/+")
                     for _ in range(40))
    return key, secret


def lc_policy(keep):
    return json.dumps({"rules": [{
        "rulePriority": 1, "description": "keep the %d most recent images" % keep,
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                      "countNumber": keep},
        "action": {"type": "expire"}}]})


class Scale:
    """One registry: its server, its clients, and what has been pushed to it."""

    def __init__(self, a, procs, data=None, tag="berth"):
        self.a = a
        self.work = a.work
        self.tag = tag
        self.data = data or os.path.join(self.work, "data")
        self.procs = procs
        self.key, self.secret = random_key()
        self.steps = []
        self.fixtures = {}
        self.digests = []  # digest of tag t{j}, for j < tags pushed so far
        self.repos = 0
        self.tags = 0
        self.garbage = 0
        self.populate_log = os.path.join(self.work, f"populate-{tag}.log")

    # --- the server and the clients

    def start(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server_log = os.path.join(self.work, f"{self.tag}.log")
        env = dict(os.environ, BERTH_ADMIN_ACCESS_KEY_ID=self.key,
                   BERTH_ADMIN_SECRET_ACCESS_KEY=self.secret)
        # Background gc and lifecycle off: they would run at unknown moments during the timing;
        # both are measured through the CLI instead.
        argv = [self.a.berth, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir",
                self.data, "--log-level", "warn", "--auto-create-repos=true",
                "--gc-interval", "0", "--lifecycle-interval", "0"]
        self.server = self.procs.spawn(argv, self.server_log, env=env)
        deadline = time.monotonic() + 30
        while not answers(self.port):
            if self.server.poll() is not None:
                raise ScaleError(f"berth exited with {self.server.returncode}; log:\n"
                                 f"{tail(self.server_log)}")
            if time.monotonic() > deadline:
                raise ScaleError(f"berth did not answer within 30 s; log:\n{tail(self.server_log)}")
            time.sleep(0.01)
        self.ecr = pop.ecr_client(self.url, self.key, self.secret, "us-east-1")
        self.auth = pop.registry_auth(self.ecr)
        log(f"scale: berth on {self.url}, data in {self.data}")

    def alive(self):
        if self.server.poll() is not None:
            raise ScaleError(f"berth exited with {self.server.returncode}; log:\n"
                             f"{tail(self.server_log)}")

    def populate(self, **kw):
        """Runs bench/populate with --key value arguments; returns its summary."""
        out = os.path.join(self.work, f"populate-{self.tag}.json")
        argv = [sys.executable, os.path.join(HERE, "populate"), "--url", self.url,
                "--workers", str(self.a.workers), "--json", out]
        for k, v in kw.items():
            argv += ["--" + k.replace("_", "-"), str(v)]
        env = dict(os.environ, AWS_ACCESS_KEY_ID=self.key, AWS_SECRET_ACCESS_KEY=self.secret)
        with open(self.populate_log, "a") as f:
            f.write("$ " + " ".join(argv[1:]) + "\n")
        p = self.procs.spawn(argv, self.populate_log, env=env)
        rc = p.wait()
        self.procs.stop(p)
        self.alive()
        if rc != 0:
            raise ScaleError(f"bench/populate failed ({rc}); log:\n{tail(self.populate_log)}")
        with open(out) as f:
            return json.load(f)

    def berth_cli(self, args, expect):
        """One run of a berth command beside the server: (seconds, stdout)."""
        argv = [self.a.berth] + args + ["--data-dir", self.data, "--log-level", "warn"]
        t0 = time.perf_counter()
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=3600,
                           stdin=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        out = r.stdout.decode(errors="replace")
        if r.returncode != 0 or not re.search(expect, out):
            raise ScaleError(f"berth {' '.join(args)} exited {r.returncode}, expected /{expect}/:"
                             f"\n{out[-2000:]}\n{r.stderr.decode(errors='replace')[-2000:]}")
        return dt, out

    def cli_timing(self, args, expect):
        times = [self.berth_cli(args, expect)[0] for _ in range(self.a.cli_reps)]
        s = summary_ms(times)
        s["median"] = statistics.median(t * 1000 for t in times)
        return s

    # --- the fixtures every step measures against

    def setup(self):
        a = self.a
        for w in a.lc_work:
            name = f"scale/lc-{w}"
            self.populate(tags=w, tags_repo=name)
            self.ecr.put_lifecycle_policy(repositoryName=name,
                                          lifecyclePolicyText=lc_policy(a.lc_keep))
        self.fixtures["lifecycle_images"] = sum(a.lc_work)
        self.populate(garbage=a.gc_work[0])
        self.garbage = a.gc_work[0]

    # --- one step

    def grow(self, repos, tags):
        t0 = time.monotonic()
        s = self.populate(repos=repos, repos_from=self.repos, tags=tags, tags_from=self.tags)
        self.repos, old = repos, self.tags
        self.tags = tags
        self.digests.extend(pop.tag_digest(j) for j in range(old, tags))
        log(f"scale: grew to {repos} repositories and {tags} tags in "
            f"{time.monotonic() - t0:.0f} s ({s['requests_per_second']:.0f} requests/s)")
        return s

    def http_ops(self):
        """(name, what, request function, check) for every HTTP operation measured."""
        a, big = self.a, "scale/big"
        mid_tag = pop.tag_name(self.tags // 2)
        mid_repo = pop.repo_name("scale/r", self.repos // 2)
        by_digest = sorted(self.digests)
        mid_digest = by_digest[len(by_digest) // 2]
        oci = pop.Conn(self.url, self.auth)
        ecr = pop.Conn(self.url, None)

        def get(path, headers=None):
            return lambda: oci.request("GET", path, None, headers)[:2]

        def describe(token=None):
            body = {"repositoryName": big, "maxResults": 100}
            if token:
                body["nextToken"] = token
            # Signed once, replayed: SigV4 allows 15 minutes, and the signer's cost is the
            # client's, not the server's.
            headers, data = self.signed("DescribeImages", body)
            return lambda: ecr.request("POST", "/", data, headers)[:2]

        def tags_check(first):
            def check(body):
                t = json.loads(body)["tags"]
                if len(t) != 100 or t[0] != first:
                    raise ScaleError(f"tags/list page starts {t[:1]}, {len(t)} tags")
            return check

        def catalog_check(first):
            def check(body):
                r = json.loads(body)["repositories"]
                if len(r) != 100 or r[0] != first:
                    raise ScaleError(f"catalog page starts {r[:1]}, {len(r)} names")
            return check

        def describe_check(first):
            def check(body):
                d = json.loads(body)
                ds = d["imageDetails"]
                if len(ds) != 100 or "nextToken" not in d or (first and ds[0]["imageDigest"] != first):
                    raise ScaleError(f"DescribeImages page: {len(ds)} images, "
                                     f"first {ds[0]['imageDigest'] if ds else None}")
            return check

        want_manifest = pop.tag_manifest(self.tags // 2)

        def manifest_check(body):
            if body != want_manifest:
                raise ScaleError("manifest GET answered other bytes")

        def referrers_check(body):
            if json.loads(body).get("manifests") != []:
                raise ScaleError("referrers answered other than an empty index")

        after_mid = by_digest[len(by_digest) // 2 + 1]
        return [
            ("tags_first", "tags/list ?n=100, first page",
             get(f"/v2/{big}/tags/list?n=100"), tags_check(pop.tag_name(0))),
            ("tags_middle", "tags/list ?n=100&last=<middle tag>",
             get(f"/v2/{big}/tags/list?n=100&last={mid_tag}"),
             tags_check(pop.tag_name(self.tags // 2 + 1))),
            ("catalog_first", "catalog ?n=100, first page",
             get("/v2/_catalog?n=100"), catalog_check("scale/big")),
            ("catalog_middle", "catalog ?n=100&last=<middle repository>",
             get(f"/v2/_catalog?n=100&last={mid_repo}"),
             catalog_check(pop.repo_name("scale/r", self.repos // 2 + 1))),
            ("describe_first", "DescribeImages maxResults=100, first page",
             describe(), describe_check(None)),
            ("describe_middle", "DescribeImages maxResults=100, nextToken from the middle",
             describe(mid_digest), describe_check(after_mid)),
            ("manifest_get", "manifest GET by tag",
             get(f"/v2/{big}/manifests/{mid_tag}", {"Accept": pop.OCI_MANIFEST}), manifest_check),
            ("referrers", "referrers of an image (none)",
             get(f"/v2/{big}/referrers/{pop.tag_digest(self.tags // 2)}"), referrers_check),
        ], (oci, ecr)

    def signed(self, op, body):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        data = json.dumps(body).encode()
        req = AWSRequest(method="POST", url=self.url + "/", data=data, headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": ECR_TARGET + op})
        SigV4Auth(Credentials(self.key, self.secret), "ecr", "us-east-1").add_auth(req)
        return dict(req.headers.items()), data

    def measure_http(self):
        a = self.a
        ops, conns = self.http_ops()
        out = {}
        try:
            for name, what, fn, check in ops:
                s = summary_ms(time_op(what, fn, check, a.warmup, a.samples))
                s["what"] = what
                out[name] = s
                log(f"scale:   {what}: mean {s['mean']:.2f} ms, p99 {s['p99']:.2f} ms")
        finally:
            for c in conns:
                c.close()
        return out

    def measure_lifecycle(self):
        a = self.a
        out = {}
        for w in a.lc_work:
            expire = max(0, w - a.lc_keep)
            s = self.cli_timing(["lifecycle", "run", "--repository", f"scale/lc-{w}", "--dry-run"],
                                rf"1 policies evaluated, {expire} images would expire")
            s["images"] = w
            out[f"repo_{w}"] = s
            log(f"scale:   lifecycle --repository (policy over {w} images): "
                f"median {s['median']:.1f} ms")
        expire = sum(max(0, w - a.lc_keep) for w in a.lc_work)
        s = self.cli_timing(["lifecycle", "run", "--dry-run"],
                            rf"{len(a.lc_work)} policies evaluated, {expire} images would expire")
        s["images"] = sum(a.lc_work)
        out["all"] = s
        log(f"scale:   lifecycle, every policy ({s['images']} images): median {s['median']:.1f} ms")
        return out

    def settle(self):
        """The pass the server's background gc makes after the step's pushes (default grace:
        nothing is old enough to go); it drops the candidates those pushes recorded, as the
        hourly pass would. Its time is the cost of what changed, reported as such."""
        dt, _ = self.berth_cli(["gc"], r"^gc: reclaimed 0 blobs")
        return {"ms": dt * 1000}

    def gc_dry(self, garbage):
        return self.cli_timing(["gc", "--gc-grace", "0", "--dry-run"],
                               rf"would reclaim {garbage} blobs?\b")

    def measure_gc(self, grow_work):
        """gc --dry-run with each amount of garbage; then removes it all and restores the first."""
        a = self.a
        out = {"settle": self.settle()}
        log(f"scale:   gc after the step's pushes (prunes their candidates): "
            f"{out['settle']['ms']:.0f} ms")
        levels = a.gc_work if grow_work else a.gc_work[:1]
        for g in levels:
            if g > self.garbage:
                self.populate(garbage=g, garbage_from=self.garbage)
                self.garbage = g
                time.sleep(1.1)  # --gc-grace 0 collects what is older than the current second
            s = self.gc_dry(g)
            s["garbage"] = g
            out[f"dry_{g}"] = s
            log(f"scale:   gc --dry-run with {g} garbage blobs: median {s['median']:.1f} ms")
        if grow_work:
            dt, _ = self.berth_cli(["gc", "--gc-grace", "0"], rf"reclaimed {self.garbage} blobs?\b")
            out["delete"] = {"garbage": self.garbage, "ms": dt * 1000}
            log(f"scale:   gc removing {self.garbage} garbage blobs: {dt * 1000:.0f} ms")
            self.garbage = 0
            self.populate(garbage=a.gc_work[0])
            self.garbage = a.gc_work[0]
            time.sleep(1.1)
        return out

    def footprint(self):
        out = {"db_bytes": file_size(os.path.join(self.data, "meta.db")),
               "wal_bytes": file_size(os.path.join(self.data, "meta.db-wal"))}
        with open(f"/proc/{self.server.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out["server_rss_kib"] = int(line.split()[1])
        return out

    def run(self):
        a = self.a
        self.start()
        t0 = time.monotonic()
        self.setup()
        log(f"scale: fixtures (lifecycle repositories {a.lc_work}, {a.gc_work[0]} garbage blobs) "
            f"in {time.monotonic() - t0:.0f} s")
        for i, n in enumerate(a.sizes):
            repos, tags = min(n, a.max_repos), n
            step = {"n": n, "repos": repos, "tags": tags}
            ts = time.monotonic()
            step["populate"] = self.grow(repos, tags)
            step["images"] = repos + tags + sum(a.lc_work)
            log(f"scale: step {i + 1}/{len(a.sizes)}: {repos} repositories, {tags} tags")
            step["http"] = self.measure_http()
            step["lifecycle"] = self.measure_lifecycle()
            step["gc"] = self.measure_gc(grow_work=True)
            self.alive()
            step.update(self.footprint())
            step["seconds"] = round(time.monotonic() - ts, 1)
            self.steps.append(step)
            log(f"scale: step {i + 1} done in {step['seconds']:.0f} s; meta.db "
                f"{step['db_bytes'] / 2**20:.0f} MiB")
        self.procs.stop(self.server)
        if self.server.returncode != 0:
            raise ScaleError(f"berth exited {self.server.returncode} on SIGTERM; log:\n"
                             f"{tail(self.server_log)}")


# ---------------------------------------------------------------- paired: two sizes side by side

def run_paired(a, procs):
    """Measures the registry an earlier run left (--reuse, at its last size --reuse-n) and a
    fresh one of --baseline size side by side: every HTTP operation in --rounds rounds and
    every command once per repetition, alternating between the two, so that whatever else the
    machine does lands on both alike. Returns the two steps, the baseline first."""
    big = Scale(a, procs, data=a.reuse, tag="reused")
    base = Scale(a, procs, data=os.path.join(a.work, "baseline"), tag="baseline")
    big.start()
    big.repos, big.tags = min(a.reuse_n, a.max_repos), a.reuse_n
    big.garbage = a.gc_work[0]  # what a finished run leaves: the first amount, pushed again
    big.digests = [pop.tag_digest(j) for j in range(big.tags)]
    base.start()
    base.setup()
    grown = base.grow(min(a.baseline, a.max_repos), a.baseline)
    regs = [base, big]
    steps = [{"n": r.tags, "repos": r.repos, "tags": r.tags, "http": {}, "lifecycle": {},
              "gc": {"settle": r.settle()}, "paired": True} for r in regs]
    time.sleep(1.1)  # the baseline's garbage must be older than the current second
    steps[0]["populate"] = grown
    log(f"scale: paired: {base.tags} tags / {base.repos} repositories against {big.tags} tags / "
        f"{big.repos} repositories, alternating in {a.rounds} rounds")

    prepared = [r.http_ops() for r in regs]
    per = max(1, a.samples // a.rounds)
    try:
        for k in range(len(prepared[0][0])):
            times = [[], []]
            for rd in range(a.rounds):
                for i in range(2):
                    _, what, fn, check = prepared[i][0][k]
                    times[i] += time_op(what, fn, check, a.warmup if rd == 0 else 5, per)
            for i in range(2):
                name, what = prepared[i][0][k][:2]
                st = summary_ms(times[i])
                st["what"] = what
                steps[i]["http"][name] = st
            log(f"scale:   {what}: mean {steps[0]['http'][name]['mean']:.2f} / "
                f"{steps[1]['http'][name]['mean']:.2f} ms, p99 "
                f"{steps[0]['http'][name]['p99']:.2f} / {steps[1]['http'][name]['p99']:.2f} ms")
    finally:
        for _, conns in prepared:
            for c in conns:
                c.close()

    def cli(section, key, args, expect, extra):
        times = [[], []]
        for _ in range(a.cli_reps):
            for i, r in enumerate(regs):
                times[i].append(r.berth_cli(args, expect)[0])
        for i in range(2):
            st = summary_ms(times[i])
            st["median"] = statistics.median(t * 1000 for t in times[i])
            st.update(extra)
            steps[i][section][key] = st
        log(f"scale:   {section} {key}: median {steps[0][section][key]['median']:.1f} / "
            f"{steps[1][section][key]['median']:.1f} ms")

    for w in a.lc_work:
        cli("lifecycle", f"repo_{w}",
            ["lifecycle", "run", "--repository", f"scale/lc-{w}", "--dry-run"],
            rf"1 policies evaluated, {max(0, w - a.lc_keep)} images would expire", {"images": w})
    expire = sum(max(0, w - a.lc_keep) for w in a.lc_work)
    cli("lifecycle", "all", ["lifecycle", "run", "--dry-run"],
        rf"{len(a.lc_work)} policies evaluated, {expire} images would expire",
        {"images": sum(a.lc_work)})
    g = a.gc_work[0]
    cli("gc", f"dry_{g}", ["gc", "--gc-grace", "0", "--dry-run"], rf"would reclaim {g} blobs?\b",
        {"garbage": g})
    for st, r in zip(steps, regs):
        r.alive()
        st.update(r.footprint())
    for r in regs:
        procs.stop(r.server)
        if r.server.returncode != 0:
            raise ScaleError(f"berth exited {r.server.returncode} on SIGTERM; log:\n"
                             f"{tail(r.server_log)}")
    return steps


# ---------------------------------------------------------------- output

HTTP_COLS = [("tags_first", "tags/list first"), ("tags_middle", "tags/list middle"),
             ("catalog_first", "catalog first"), ("catalog_middle", "catalog middle"),
             ("describe_first", "DescribeImages first"),
             ("describe_middle", "DescribeImages middle"), ("manifest_get", "manifest GET"),
             ("referrers", "referrers")]


def fmt_n(n):
    for div, suffix in ((10**6, "M"), (10**3, "k")):
        if n >= div and n % (div // 10) == 0:
            v = n / div
            return f"{v:g}{suffix}"
    return str(n)


def render(res):
    steps = res["steps"]
    cfg = res["config"]
    lines = []
    if cfg.get("paired"):
        lines.append(f"Paired: the two registries were up at once and measured alternately, "
                     f"each HTTP operation in {cfg['rounds']} rounds of "
                     f"{cfg['samples'] // cfg['rounds']} requests, each command once per "
                     f"repetition, so that other load on the machine fell on both alike.")
        lines.append("")
    lines.append("Latency of one request from one keep-alive client, sequentially: mean / p99 in "
                 f"ms over {cfg['samples']} requests (after {cfg['warmup']} unmeasured). "
                 "N: tags in `scale/big`; repositories: min(N, "
                 f"{fmt_n(cfg['max_repos'])}) `scale/r*` plus {len(cfg['lc_work']) + 2} others.")
    lines.append("")
    lines.append("| N | repositories | " + " | ".join(h for _, h in HTTP_COLS) + " |")
    lines.append("|---:|---:|" + "---:|" * len(HTTP_COLS))
    for s in steps:
        cells = [f"{s['http'][k]['mean']:.2f} / {s['http'][k]['p99']:.2f}" for k, _ in HTTP_COLS]
        lines.append(f"| {fmt_n(s['tags'])} | {fmt_n(s['repos'])} | " + " | ".join(cells) + " |")
    if len(steps) > 1:
        first, last = steps[0], steps[-1]
        cells = [f"{last['http'][k]['mean'] / first['http'][k]['mean']:.2f}x" for k, _ in HTTP_COLS]
        lines.append(f"| largest / smallest (mean) | | " + " | ".join(cells) + " |")
    lines.append("")
    lw = cfg["lc_work"]
    lines.append(f"`berth lifecycle run --dry-run` beside the server (wall time of the command, "
                 f"median of {cfg['cli_reps']} runs, ms). Each policy keeps "
                 f"{cfg['lc_keep']} images and would expire the rest; \"every policy\" evaluates "
                 f"all {len(lw)} ({sum(lw)} images).")
    lines.append("")
    lines.append("| N | repositories | " + " | ".join(f"--repository, {w} images" for w in lw)
                 + " | every policy |")
    lines.append("|---:|---:|" + "---:|" * (len(lw) + 1))
    for s in steps:
        cells = [f"{s['lifecycle'][f'repo_{w}']['median']:.1f}" for w in lw]
        cells.append(f"{s['lifecycle']['all']['median']:.1f}")
        lines.append(f"| {fmt_n(s['tags'])} | {fmt_n(s['repos'])} | " + " | ".join(cells) + " |")
    lines.append("")
    gw = cfg["gc_work"]
    lines.append(f"`berth gc --gc-grace 0 --dry-run` beside the server with G garbage blobs "
                 f"(unreferenced, in one repository): median of {cfg['cli_reps']} runs, ms; "
                 f"then the real `berth gc` removing {gw[-1]}, one run. First column: the "
                 f"real pass (default grace) right after the step's pushes, one run.")
    lines.append("")
    lines.append("| N | repositories | blob files | after the pushes | "
                 + " | ".join(f"dry run, G={g}" for g in gw) + f" | removing {gw[-1]} |")
    lines.append("|---:|---:|---:|---:|" + "---:|" * (len(gw) + 1))
    for s in steps:
        cells = [f"{s['gc']['settle']['ms']:.0f}" if "settle" in s["gc"] else "-"]
        cells += [f"{s['gc'][f'dry_{g}']['median']:.1f}" if f"dry_{g}" in s["gc"] else "-"
                  for g in gw]
        cells.append(f"{s['gc']['delete']['ms']:.0f}" if "delete" in s["gc"] else "-")
        files = s["repos"] + 2 + gw[0]
        lines.append(f"| {fmt_n(s['tags'])} | {fmt_n(s['repos'])} | {files} | "
                     + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Populating (bench/populate through the public APIs, "
                 f"{cfg['workers']} workers):")
    lines.append("")
    lines.append("| N | repositories added | repos/s | tags added | tags/s | requests/s | "
                 "seconds | meta.db MiB | server RSS MiB |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in steps:
        if "populate" not in s:
            lines.append(f"| {fmt_n(s['tags'])} | (made by an earlier run) | | | | | | "
                         f"{s['db_bytes'] / 2**20:.0f} | "
                         f"{s.get('server_rss_kib', 0) / 1024:.0f} |")
            continue
        parts = {p["what"]: p for p in s["populate"]["parts"]}
        r, t = parts.get("repositories", {}), parts.get("tags", {})
        lines.append(f"| {fmt_n(s['tags'])} | {r.get('count', 0)} | {r.get('per_second', 0):.0f} | "
                     f"{t.get('count', 0)} | {t.get('per_second', 0):.0f} | "
                     f"{s['populate']['requests_per_second']:.0f} | "
                     f"{s['populate']['seconds']:.0f} | {s['db_bytes'] / 2**20:.0f} | "
                     f"{s.get('server_rss_kib', 0) / 1024:.0f} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--berth", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    p.add_argument("--sizes", help="comma-separated N (tags in scale/big) per step "
                                   "(default 1000,10000,100000,1000000)")
    p.add_argument("--max-repos", type=int, help="repositories = min(N, this) (default 100000)")
    p.add_argument("--samples", type=int, help="measured requests per HTTP operation (300)")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--cli-reps", type=int, help="runs of each berth command (5)")
    p.add_argument("--lc-work", help="images in the lifecycle repositories (100,1000,10000)")
    p.add_argument("--lc-keep", type=int, default=10)
    p.add_argument("--gc-work", help="garbage blobs, first the fixed amount (100,1000,10000)")
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--time-limit", type=int, default=7200)
    p.add_argument("--reuse", metavar="DATA_DIR",
                   help="paired mode: measure the data directory an earlier run left (keep it "
                        "with SCALE_KEEP=1: WORK/data) against a fresh --baseline registry")
    p.add_argument("--reuse-n", type=int, help="N of the --reuse registry (its last step)")
    p.add_argument("--baseline", type=int, default=1000, help="N of the fresh registry (1000)")
    p.add_argument("--rounds", type=int, default=5, help="paired rounds per operation (5)")
    p.add_argument("--json", help="write every point here")
    p.add_argument("--markdown", help="write the tables here")
    a = p.parse_args()
    quick = a.quick

    def ints(s, default):
        return [int(x) for x in (s or default).split(",")]

    a.sizes = ints(a.sizes, "300,1000,3000" if quick else "1000,10000,100000,1000000")
    a.max_repos = a.max_repos or (2000 if quick else 100000)
    a.samples = a.samples or (50 if quick else 300)
    a.cli_reps = a.cli_reps or (3 if quick else 5)
    a.lc_work = ints(a.lc_work, "20,100" if quick else "100,1000,10000")
    a.gc_work = ints(a.gc_work, "10,100" if quick else "100,1000,10000")
    if a.reuse and not a.reuse_n:
        p.error("--reuse needs --reuse-n")
    if sorted(a.sizes) != a.sizes or sorted(a.gc_work) != a.gc_work or min(a.sizes) < 204:
        p.error("--sizes and --gc-work must grow; the smallest N is 204 (two pages of 100 "
                "from the middle)")

    def on_signal(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    def on_alarm(signum, frame):
        raise ScaleError(f"the run took longer than {a.time_limit} s")

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(a.time_limit)

    procs = Procs(os.path.join(a.work, "pids"), stop_timeout=30)
    s = Scale(a, procs)
    t0 = time.time()
    cpu0 = cpu_busy_seconds()
    load0 = open("/proc/loadavg").read().split()[:3]
    rc = 0
    try:
        if a.reuse:
            s.steps = run_paired(a, procs)
        else:
            s.run()
    except ScaleError as e:
        log(f"scale: error: {e}")
        rc = 1
    finally:
        procs.stop_all(timeout=10)
        signal.alarm(0)
    if rc:
        return rc
    wall = time.time() - t0
    busy = cpu_busy_seconds() - cpu0
    ours = sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF,
               resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
    ncpu = os.cpu_count()
    other = max(0.0, busy - ours)
    version = subprocess.run([a.berth, "version"], stdout=subprocess.PIPE).stdout.decode().strip()
    res = {
        "berth": version,
        "config": {"sizes": a.sizes, "max_repos": a.max_repos, "samples": a.samples,
                   "warmup": a.warmup, "cli_reps": a.cli_reps, "lc_work": a.lc_work,
                   "lc_keep": a.lc_keep, "gc_work": a.gc_work, "workers": a.workers,
                   "paired": bool(a.reuse), "rounds": a.rounds},
        "steps": s.steps,
        "seconds": round(wall, 1),
        "notes": [
            f"CPU time during the run: {busy:.0f} s busy of {wall * ncpu:.0f} s available "
            f"({ncpu} CPUs x {wall:.0f} s); this run and what it started used {ours:.0f} s, "
            f"other work on the machine about {other:.0f} s "
            f"({other / (wall * ncpu) * 100:.0f}% of the machine)",
            f"load average at start {' '.join(load0)}, at end "
            f"{' '.join(open('/proc/loadavg').read().split()[:3])}",
        ],
    }
    text = render(res)
    print(text)
    print()
    for n in res["notes"]:
        print(f"- {n}")
    print(f"\nTotal time: {wall:.0f} s.")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n\n" + "\n".join(f"- {n}" for n in res["notes"]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
