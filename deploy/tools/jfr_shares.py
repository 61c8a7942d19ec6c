#!/usr/bin/env python3
"""Where the thread that drives a pass spends its time, from a JFR recording (docs/performance.md).

    /usr/bin/python3 deploy/tools/jfr_shares.py step.jfr [--skip 5] [--thread main]

Reads the recording's native-method and execution samples of one thread (the pass's caller waits in the native
call while OpenBLAS and OpenMP work, so its samples are wall time per call site), weighs each by its sampling period
(JFR's "profile" settings sample native methods every 20 ms and Java code every 10 ms), leaves out the first --skip
seconds (warm-up), and prints the share of time per sparseft method (the innermost org.sparseft frame, helper
loops of the vector kernels folded into the kernel that called them), with the innermost frame's method.
"""
import argparse
import collections
import re
import subprocess

HELPERS = tuple("org.sparseft.numerics.VectorKernels." + h for h in
                ("load", "store", "get", "put", "dot", "sum", "exp", "sigmoid", "tanh", "fill"))


def seconds(clock):
    h, m, s = clock.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recording")
    ap.add_argument("--skip", type=float, default=5.0)
    ap.add_argument("--thread", default="main")
    ap.add_argument("--top", type=int, default=30)
    a = ap.parse_args()
    text = subprocess.run(["jfr", "print", "--stack-depth", "40", "--events",
                           "jdk.NativeMethodSample,jdk.ExecutionSample", a.recording],
                          check=True, capture_output=True, text=True).stdout
    samples = []
    for event in text.split("\njdk."):
        start = re.search(r"startTime = ([\d:.]+)", event)
        stack = re.search(r"stackTrace = \[\n(.*?)\n  \]", event, re.S)
        if start and stack and f'sampledThread = "{a.thread}"' in event:
            frames = [f.strip() for f in stack.group(1).split("\n") if f.strip() != "..."]
            weight = 2 if event.startswith("NativeMethodSample") else 1
            samples.append((seconds(start.group(1)), weight, frames))
    samples.sort(key=lambda s: s[0])
    first = samples[0][0]
    by_method = collections.Counter()
    by_site = collections.Counter()
    n = 0
    for t, weight, frames in samples:
        if t - first < a.skip:
            continue
        n += weight
        own = next((f for f in frames if f.startswith("org.sparseft") and not f.startswith(HELPERS)), "(not sparseft)")
        method = re.sub(r"\(.*", "", own).replace("org.sparseft.", "")
        line = re.search(r"line: (\d+)", own)
        by_method[method] += weight
        by_site[(method + (":" + line.group(1) if line else ""), frames[0].split("(")[0].split(".")[-1])] += weight
    print(f"{n * 10} ms sampled of thread '{a.thread}' after the first {a.skip:g} s")
    print("\n| sparseft method | share |\n|---|---:|")
    for m, c in by_method.most_common(a.top):
        print(f"| {m} | {100 * c / n:.1f}% |")
    print("\n| call site | innermost method | share |\n|---|---|---:|")
    for (site, inner), c in by_site.most_common(a.top):
        print(f"| {site} | {inner} | {100 * c / n:.1f}% |")


if __name__ == "__main__":
    main()
