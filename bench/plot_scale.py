#!/usr/bin/env python3
"""Plots bench/scale's JSON: size -> latency, one line per operation.

    plot_scale.py scale.json [paired.json] scale.png

With a second JSON from a paired run (bench/scale --reuse), its two sizes, measured
alternately, are drawn over the first panel as hollow markers joined by a dotted line.

Three panels: (1) the HTTP reads, mean latency against N (tags in the big repository; the
repositories grow with it up to their maximum); (2) lifecycle and gc commands against N, each
with a fixed amount of work; (3) the same commands against the amount of work, at the
smallest and the largest N. Needs matplotlib (Debian: python3-matplotlib).
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HTTP = [("tags_first", "tags/list, first page"), ("tags_middle", "tags/list, middle page"),
        ("catalog_first", "catalog, first page"), ("catalog_middle", "catalog, middle page"),
        ("describe_first", "DescribeImages, first page"),
        ("describe_middle", "DescribeImages, middle page"), ("manifest_get", "manifest GET by tag"),
        ("referrers", "referrers of an image")]


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        res = json.load(f)
    paired = None
    if len(sys.argv) == 4:
        with open(sys.argv[2]) as f:
            paired = json.load(f)
    steps, cfg = res["steps"], res["config"]
    ns = [s["tags"] for s in steps]

    fig, axes = plt.subplots(1, 3, figsize=(18, 7.2))
    ax = axes[0]
    for i, (key, label) in enumerate(HTTP):
        if key not in steps[0]["http"]:
            continue
        ax.plot(ns, [s["http"][key]["mean"] for s in steps], marker="o", label=label,
                color="C%d" % i)
        if paired and key in paired["steps"][0]["http"]:
            ps = paired["steps"]
            ax.plot([s["tags"] for s in ps], [s["http"][key]["mean"] for s in ps], marker="o",
                    markerfacecolor="none", linestyle=":", color="C%d" % i)
    if paired:
        ax.plot([], [], marker="o", markerfacecolor="none", linestyle=":", color="grey",
                label="paired run: %s and %s measured alternately" % tuple(
                    "N=%d" % s["tags"] for s in paired["steps"]))
    ax.set_xscale("log")
    ax.set_yscale("log")  # pages cost 0.1 to 5 ms: flat lines at both ends stay visible
    ax.set_xlabel("N: tags in the big repository (repositories: min(N, %d))" % cfg["max_repos"])
    ax.set_ylabel("mean latency, ms (one keep-alive client)")
    ax.set_title("Paginated reads, manifest GET, referrers (page size 100)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)

    ax = axes[1]
    for w in cfg["lc_work"]:
        ax.plot(ns, [s["lifecycle"]["repo_%d" % w]["median"] for s in steps], marker="o",
                label="lifecycle --repository, %d images" % w)
    ax.plot(ns, [s["lifecycle"]["all"]["median"] for s in steps], marker="s", linestyle=":",
            label="lifecycle, every policy (%d images)" % sum(cfg["lc_work"]))
    for g in cfg["gc_work"]:
        if all("dry_%d" % g in s["gc"] for s in steps):
            ax.plot(ns, [s["gc"]["dry_%d" % g]["median"] for s in steps], marker="^",
                    linestyle="--", label="gc --dry-run, %d garbage blobs" % g)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N (registry size, as in the first panel)")
    ax.set_ylabel("command wall time, ms (median)")
    ax.set_title("Lifecycle and gc at a fixed amount of work, as the registry grows")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)

    ax = axes[2]
    ends = [steps[0], steps[-1]] if len(steps) > 1 else steps
    for s, style in zip(ends, (":", "-")):
        ax.plot(cfg["lc_work"], [s["lifecycle"]["repo_%d" % w]["median"] for w in cfg["lc_work"]],
                marker="o", linestyle=style, color="C0",
                label="lifecycle --repository, N=%d" % s["tags"])
        gw = [g for g in cfg["gc_work"] if "dry_%d" % g in s["gc"]]
        ax.plot(gw, [s["gc"]["dry_%d" % g]["median"] for g in gw],
                marker="^", linestyle=style, color="C3", label="gc --dry-run, N=%d" % s["tags"])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("work: images the policy evaluates / garbage blobs")
    ax.set_ylabel("command wall time, ms (median)")
    ax.set_title("The same commands as the work grows, at fixed size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)

    fig.suptitle("Berth %s: cost against registry size (%s)" % (
        res.get("berth", "").replace("berth ", ""), "bench/scale"))
    fig.tight_layout()
    fig.savefig(sys.argv[-1], dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
