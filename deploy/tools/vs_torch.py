#!/usr/bin/env python3
"""sparseft's model engine against PyTorch eager float32 on the same machine, same shapes, threads and batch.

    mvn -B -q package -DskipTests
    OMP_NUM_THREADS=2 /usr/bin/python3 deploy/tools/vs_torch.py [--seqlens 128,256] [--batch 8] [--reps 7]
                                                                  [--warmup 10] [--rounds 3]
    OMP_NUM_THREADS=2 /usr/bin/python3 deploy/tools/vs_torch.py --prune [--layers 3] [--nsamples 16] [--seqlen 256]
                                                                  [--tasks 1] [--rounds 3]
    OMP_NUM_THREADS=2 /usr/bin/python3 deploy/tools/vs_torch.py --masks 4096,11008
    OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 deploy/tools/vs_torch.py --profile demo [--seqlen 128]

For each sequence length, runs `deploy/bin/sparseft bench engine` (forward and forward+backward tokens/s of four
model shapes: GPT-2-small with 2 blocks, GPT-2-small blocks with a 256-token vocabulary, the demo model, a 5M LLaMA
shape) and the same passes in PyTorch: the same architectures written out here in plain torch (LayerNorm/RMSNorm,
GELU/SwiGLU, rotary embeddings, grouped-query causal attention as HF's eager code computes it, a tied or separate
LM head, mean cross-entropy), --warmup untimed passes then --reps timed ones, gradients into existing buffers as
sparseft's pass does. Tokens/s are the median of the timed passes on both sides. The two sides take turns, --rounds
times (sparseft's four shapes, then PyTorch's, then sparseft's again...), so that a machine whose speed drifts over
minutes moves both; the table shows each side's median over the rounds, their ratio (sparseft / PyTorch; above 1
means sparseft is faster) and the range of the rounds' own ratios.

With --prune: one-shot Wanda and SparseGPT (unstructured 50%) of a GPT-2-small-shaped random model, as the official
implementations run them: block by block, hooks on every linear collecting the statistics (Wanda's per-column squared
norms, SparseGPT's XᵀX) over the calibration sequences one at a time, then each linear pruned (Wanda: |W|·‖x‖ and a
per-row sort; SparseGPT: damped Cholesky inverse and the column-block OBS update, block size 128), then the block run
again to give the next block its inputs. Compared with `sparseft bench prune`'s calibration + mask search seconds,
the sides taking turns --rounds times as above.
With --profile SHAPE: PyTorch's own side only, under torch.profiler: milliseconds per training pass of one shape
(demo, llama, gpt2-blocks, gpt2) by operator (self time on the calling thread, as JFR's samples of sparseft's
calling thread count it), grouped as GEMMs of the linears (mm, addmm), attention's batched products (bmm) and the
rest, with the pass's wall time outside the profiler; for the per-operation comparison with
deploy/tools/StepLoop.java's JFR profile of the same pass.
Needs Debian's python3-torch; a checking tool, never a dependency of sparseft.
"""
import argparse
import collections
import math
import os
import re
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def gpt2(vocab, positions, d, layers, heads):
    return dict(kind="gpt2", vocab=vocab, positions=positions, d=d, layers=layers, heads=heads, ffn=4 * d)


def llama(vocab, positions, d, ffn, layers, heads, kv_heads, tied):
    return dict(kind="llama", vocab=vocab, positions=positions, d=d, ffn=ffn, layers=layers, heads=heads,
                kv_heads=kv_heads, tied=tied)


# the shapes of `sparseft bench engine`, by the start of its row names
SHAPES = [
    ("GPT-2-small shape", lambda layers: gpt2(50257, 1024, 768, layers, 12)),
    ("GPT-2-small blocks", lambda layers: gpt2(256, 1024, 768, layers, 12)),
    ("demo model", lambda layers: llama(257, 256, 256, 688, 4, 8, 4, True)),
    ("LLaMA shape d=256", lambda layers: llama(4096, 1024, 256, 688, 4, 8, 4, False)),
]


def parameters(cfg, gen):
    def rnd(*shape):
        return (torch.randn(*shape, generator=gen) * 0.02).requires_grad_()

    def ones(n):
        return torch.ones(n).requires_grad_()

    def zeros(n):
        return torch.zeros(n).requires_grad_()

    d, p = cfg["d"], {}
    p["embed"] = rnd(cfg["vocab"], d)
    if cfg["kind"] == "gpt2":
        p["wpe"] = rnd(cfg["positions"], d)
    for i in range(cfg["layers"]):
        if cfg["kind"] == "gpt2":
            p.update({f"{i}.ln1.w": ones(d), f"{i}.ln1.b": zeros(d), f"{i}.attn.w": rnd(3 * d, d),
                      f"{i}.attn.b": zeros(3 * d), f"{i}.proj.w": rnd(d, d), f"{i}.proj.b": zeros(d),
                      f"{i}.ln2.w": ones(d), f"{i}.ln2.b": zeros(d), f"{i}.fc.w": rnd(cfg["ffn"], d),
                      f"{i}.fc.b": zeros(cfg["ffn"]), f"{i}.out.w": rnd(d, cfg["ffn"]), f"{i}.out.b": zeros(d)})
        else:
            hd = d // cfg["heads"]
            p.update({f"{i}.in_norm": ones(d), f"{i}.q": rnd(cfg["heads"] * hd, d),
                      f"{i}.k": rnd(cfg["kv_heads"] * hd, d), f"{i}.v": rnd(cfg["kv_heads"] * hd, d),
                      f"{i}.o": rnd(d, cfg["heads"] * hd), f"{i}.post_norm": ones(d),
                      f"{i}.gate": rnd(cfg["ffn"], d), f"{i}.up": rnd(cfg["ffn"], d), f"{i}.down": rnd(d, cfg["ffn"])})
    if cfg["kind"] == "gpt2":
        p["lnf.w"], p["lnf.b"] = ones(d), zeros(d)
    else:
        p["norm"] = ones(d)
        if not cfg["tied"]:
            p["head"] = rnd(cfg["vocab"], d)
    return p


def rms_norm(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def attention(q, k, v, mask):
    # q [B, H, T, hd], k and v [B, H, T, hd] (grouped heads already repeated), as HF's eager attention
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    probs = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
    return probs @ v


def forward(cfg, p, ids):
    b, t = ids.shape
    d = cfg["d"]
    heads = cfg["heads"]
    hd = d // heads
    mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
    x = F.embedding(ids, p["embed"])
    if cfg["kind"] == "gpt2":
        x = x + p["wpe"][:t]
        for i in range(cfg["layers"]):
            h = F.layer_norm(x, (d,), p[f"{i}.ln1.w"], p[f"{i}.ln1.b"], 1e-5)
            q, k, v = F.linear(h, p[f"{i}.attn.w"], p[f"{i}.attn.b"]).split(d, dim=-1)
            q, k, v = (z.view(b, t, heads, hd).transpose(1, 2) for z in (q, k, v))
            a = attention(q, k, v, mask).transpose(1, 2).reshape(b, t, d)
            x = x + F.linear(a, p[f"{i}.proj.w"], p[f"{i}.proj.b"])
            h = F.layer_norm(x, (d,), p[f"{i}.ln2.w"], p[f"{i}.ln2.b"], 1e-5)
            x = x + F.linear(F.gelu(F.linear(h, p[f"{i}.fc.w"], p[f"{i}.fc.b"]), approximate="tanh"),
                             p[f"{i}.out.w"], p[f"{i}.out.b"])
        x = F.layer_norm(x, (d,), p["lnf.w"], p["lnf.b"], 1e-5)
        return F.linear(x, p["embed"])
    kv = cfg["kv_heads"]
    inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
    freqs = torch.outer(torch.arange(t).float(), inv)
    cos, sin = torch.cat((freqs, freqs), -1).cos(), torch.cat((freqs, freqs), -1).sin()
    for i in range(cfg["layers"]):
        h = rms_norm(x, p[f"{i}.in_norm"])
        q = F.linear(h, p[f"{i}.q"]).view(b, t, heads, hd).transpose(1, 2)
        k = F.linear(h, p[f"{i}.k"]).view(b, t, kv, hd).transpose(1, 2)
        v = F.linear(h, p[f"{i}.v"]).view(b, t, kv, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(heads // kv, dim=1), v.repeat_interleave(heads // kv, dim=1)
        a = attention(q, k, v, mask).transpose(1, 2).reshape(b, t, d)
        x = x + F.linear(a, p[f"{i}.o"])
        h = rms_norm(x, p[f"{i}.post_norm"])
        x = x + F.linear(F.silu(F.linear(h, p[f"{i}.gate"])) * F.linear(h, p[f"{i}.up"]), p[f"{i}.down"])
    x = rms_norm(x, p["norm"])
    return F.linear(x, p["embed"] if cfg["tied"] else p["head"])


def torch_row(cfg, batch, seqlen, warmup, reps):
    gen = torch.Generator().manual_seed(1)
    p = parameters(cfg, gen)
    ids = torch.randint(0, cfg["vocab"], (batch, seqlen), generator=gen)
    targets = torch.roll(ids, -1, 1)

    def fwd():
        with torch.no_grad():
            forward(cfg, p, ids)

    def train():
        logits = forward(cfg, p, ids)
        F.cross_entropy(logits.view(-1, cfg["vocab"]), targets.view(-1)).backward()

    def median_seconds(f):
        for _ in range(max(1, warmup)):
            f()
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            f()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    tokens = batch * seqlen
    return tokens / median_seconds(fwd), tokens / median_seconds(train)


def gpt2_block(p, i, x, mask, heads, linear=F.linear):
    b, t, d = x.shape
    hd = d // heads
    h = F.layer_norm(x, (d,), p[f"{i}.ln1.w"], p[f"{i}.ln1.b"], 1e-5)
    q, k, v = linear(h, p[f"{i}.attn.w"], p[f"{i}.attn.b"]).split(d, dim=-1)
    q, k, v = (z.view(b, t, heads, hd).transpose(1, 2) for z in (q, k, v))
    a = attention(q, k, v, mask).transpose(1, 2).reshape(b, t, d)
    x = x + linear(a, p[f"{i}.proj.w"], p[f"{i}.proj.b"])
    h = F.layer_norm(x, (d,), p[f"{i}.ln2.w"], p[f"{i}.ln2.b"], 1e-5)
    return x + linear(F.gelu(linear(h, p[f"{i}.fc.w"], p[f"{i}.fc.b"]), approximate="tanh"),
                  p[f"{i}.out.w"], p[f"{i}.out.b"])


def wanda_prune(w, sq_norm, sparsity):
    metric = w.abs() * torch.sqrt(sq_norm.reshape(1, -1))
    order = torch.sort(metric, dim=-1, stable=True)[1]
    w.scatter_(1, order[:, :int(w.shape[1] * sparsity)], 0.0)


def sparsegpt_prune(w, h, sparsity, blocksize=128, percdamp=0.01):
    cols = w.shape[1]
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    h += percdamp * torch.mean(torch.diag(h)) * torch.eye(cols)
    hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        w1 = w[:, i1:i2].clone()
        q1 = torch.zeros_like(w1)
        err1 = torch.zeros_like(w1)
        hinv1 = hinv[i1:i2, i1:i2]
        tmp = w1 ** 2 / torch.diag(hinv1).reshape(1, -1) ** 2
        mask1 = tmp <= torch.sort(tmp.flatten())[0][int(tmp.numel() * sparsity)]
        for i in range(i2 - i1):
            wcol = w1[:, i]
            d = hinv1[i, i]
            qcol = wcol.clone()
            qcol[mask1[:, i]] = 0
            q1[:, i] = qcol
            e = (wcol - qcol) / d
            w1[:, i:] -= e.unsqueeze(1).matmul(hinv1[i, i:].unsqueeze(0))
            err1[:, i] = e
        w[:, i1:i2] = q1
        w[:, i2:] -= err1.matmul(hinv[i1:i2, i2:])


def torch_prune(method, layers, nsamples, seqlen, sparsity=0.5):
    """Seconds of each block's work (statistics passes, pruning, output passes), as the official code runs."""
    cfg = gpt2(50257, 1024, 768, layers, 12)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        p = {k: v.detach() for k, v in parameters(cfg, gen).items()}
        ids = torch.randint(0, cfg["vocab"], (nsamples, seqlen), generator=gen)
        mask = torch.triu(torch.ones(seqlen, seqlen, dtype=torch.bool), 1)
        inps = [F.embedding(ids[j:j + 1], p["embed"]) + p["wpe"][:seqlen] for j in range(nsamples)]
        linears = ["attn", "proj", "fc", "out"]
        seconds = []
        for i in range(layers):
            start = time.perf_counter()
            stats = {}
            names = {id(p[f"{i}.{n}.w"]): n for n in linears}

            def recording(x, w, b=None):  # the hooks: each linear's input statistics, summed over the sequences
                x2 = x.reshape(-1, x.shape[-1])
                s = (x2 * x2).sum(0) if method == "wanda" else x2.t() @ x2
                name = names[id(w)]
                stats[name] = s if name not in stats else stats[name] + s
                return F.linear(x, w, b)

            for j in range(nsamples):
                gpt2_block(p, i, inps[j], mask, cfg["heads"], recording)
            tokens = nsamples * seqlen
            for name in linears:
                w = p[f"{i}.{name}.w"]
                if method == "wanda":
                    wanda_prune(w, stats[name] / tokens, sparsity)
                else:
                    sparsegpt_prune(w, stats[name] * (2.0 / tokens), sparsity)
            inps = [gpt2_block(p, i, inps[j], mask, cfg["heads"]) for j in range(nsamples)]
            seconds.append(time.perf_counter() - start)
        return seconds


def sparseft_rows(batch, seqlen, warmup, reps, layers):
    cmd = [os.path.join(ROOT, "deploy", "bin", "sparseft"), "bench", "engine", "--batch", str(batch), "--seqlen",
           str(seqlen), "--warmup", str(warmup), "--reps", str(reps), "--layers", str(layers)]
    print("+ " + " ".join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and re.match(r"^[\d.]+$", cells[3]):
            rows[cells[0]] = (float(cells[3]), float(cells[4]), cells[6])
    return rows


def sparseft_prune(layers, nsamples, seqlen, tasks, threads):
    """Per method, each block's calibration + mask search seconds from `sparseft bench prune` (the GPT-2-small rows),
    with `tasks` Spark tasks at a time (local[tasks], as many partitions) of threads / tasks BLAS threads each: the
    layout docs/deploy.md asks of a cluster, task slots times BLAS threads equal to the cores."""
    cmd = [os.path.join(ROOT, "deploy", "bin", "sparseft"), "bench", "prune", "--layers", str(layers), "--nsamples",
           str(nsamples), "--seqlen", str(seqlen), "--methods", "wanda,sparsegpt", "--demo-model", "none",
           "--master", f"local[{tasks}]", "--partitions", str(tasks)]
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, threads // tasks)))
    print(f"+ OMP_NUM_THREADS={env['OMP_NUM_THREADS']} " + " ".join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    seconds = collections.defaultdict(list)
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("GPT-2-small") and re.match(r"^\d+$", cells[2]):
            seconds[cells[1].lower()].append(float(cells[3]) + float(cells[5]))
    return seconds, out


def ratio_cell(mine, theirs, round_ratios):
    """The ratio of two medians, then the lowest and highest of the rounds' own ratios in brackets."""
    return f"{mine / theirs:.2f} ({min(round_ratios):.2f}-{max(round_ratios):.2f})"


def prune_table(a, threads):
    """The sides take turns, --rounds times (sparseft's run of both methods, then PyTorch's), like the training table:
    each figure is the median over the rounds, with the range of the rounds' own ratios beside the ratio."""
    per_round = collections.defaultdict(list)  # method -> [(mine, theirs)] per round, each a list of block seconds
    for _ in range(a.rounds):
        ours, raw = sparseft_prune(a.layers, a.nsamples, a.seqlen, a.tasks, threads)
        print(raw, file=sys.stderr)
        for method in ("wanda", "sparsegpt"):
            per_round[method].append((ours[method], torch_prune(method, a.layers, a.nsamples, a.seqlen)))
    print(f"One-shot pruning, GPT-2-small shape with {a.layers} blocks, {a.nsamples} x {a.seqlen} calibration tokens,"
          f" unstructured 50%: sparseft (`sparseft bench prune`, Spark local[{a.tasks}], {a.tasks} partitions,"
          f" BLAS threads a task: {max(1, threads // a.tasks)}; calibration passes + mask search) against PyTorch"
          f" {torch.__version__} float32 on {threads} threads (the official"
          f" block-by-block loop, timed from the first block's inputs); seconds. The first block carries each side's"
          f" warm-up (sparseft's also reads the embeddings and embeds the sequences). {a.rounds} rounds, the sides in"
          f" turn: medians over the rounds; the ratios are of the medians, with the lowest and highest of the rounds'"
          f" own ratios in brackets.")
    print()
    print("| method | sparseft block 0 | sparseft later blocks, mean | PyTorch block 0 | PyTorch later blocks, mean"
          " | ratio, total | ratio, later blocks |")
    print("|---|---:|---:|---:|---:|---:|---:|")

    def later(blocks):
        return statistics.mean(blocks[1:]) if len(blocks) > 1 else float("nan")

    for method, rounds in per_round.items():
        med = statistics.median
        mine0, theirs0 = med(m[0] for m, _ in rounds), med(t[0] for _, t in rounds)
        mine_later, theirs_later = med(later(m) for m, _ in rounds), med(later(t) for _, t in rounds)
        mine_total, theirs_total = med(sum(m) for m, _ in rounds), med(sum(t) for _, t in rounds)
        total_ratios = [sum(t) / sum(m) for m, t in rounds]
        later_ratios = [later(t) / later(m) for m, t in rounds]
        print(f"| {method} | {mine0:.2f} | {mine_later:.2f} | {theirs0:.2f} | {theirs_later:.2f} |"
              f" {ratio_cell(theirs_total, mine_total, total_ratios)} |"
              f" {ratio_cell(theirs_later, mine_later, later_ratios)} |")
    sys.stdout.flush()


def masks_table(a, threads):
    """SparseGPT on one linear: `sparseft bench masks` (float64 factor and sweep) against the official float32 step."""
    rows, cols = (int(v) for v in a.masks.split(","))
    cmd = [os.path.join(ROOT, "deploy", "bin", "sparseft"), "bench", "masks", "--rows", str(rows), "--cols", str(cols),
           "--reps", "1"]
    print("+ " + " ".join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    print(out, file=sys.stderr)
    ours = next(float(line.split("|")[3]) for line in out.splitlines()
                if line.startswith("| sparsegpt") and "| unstructured |" in line)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        x = torch.randn(cols, cols, generator=gen)
        h = x.t() @ x * (2.0 / cols)
        w = torch.randn(rows, cols, generator=gen) * 0.02
        start = time.perf_counter()
        sparsegpt_prune(w, h, 0.5)
        theirs = time.perf_counter() - start
    print(f"SparseGPT on one [{rows}, {cols}] linear, unstructured 50%, blocks of 128, from its Gram matrix: sparseft"
          f" (`sparseft bench masks`, float64 factor and sweep, one timed run after a warm-up) against PyTorch"
          f" {torch.__version__} float32 on {threads} threads (the official step); seconds")
    print()
    print("| shape | sparseft s | PyTorch s | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| [{rows}, {cols}] | {ours:.1f} | {theirs:.1f} | {theirs / ours:.2f} |")


PROFILE_SHAPES = {"gpt2": 0, "gpt2-blocks": 1, "demo": 2, "llama": 3}
GROUPS = {"aten::mm": "GEMMs of the linears", "aten::addmm": "GEMMs of the linears",
          "aten::bmm": "attention's batched products"}


def profile_table(a, threads):
    """Milliseconds per training pass by operator, PyTorch side, for the comparison with sparseft's JFR profile."""
    from torch.profiler import ProfilerActivity, profile
    cfg = SHAPES[PROFILE_SHAPES[a.profile]][1](a.layers)
    seqlen = a.seqlen
    gen = torch.Generator().manual_seed(1)
    p = parameters(cfg, gen)
    ids = torch.randint(0, cfg["vocab"], (a.batch, seqlen), generator=gen)
    targets = torch.roll(ids, -1, 1)

    def train():
        logits = forward(cfg, p, ids)
        F.cross_entropy(logits.view(-1, cfg["vocab"]), targets.view(-1)).backward()

    for _ in range(3):
        train()
    wall = []
    for _ in range(a.reps):
        start = time.perf_counter()
        train()
        wall.append(time.perf_counter() - start)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(a.reps):
            train()
    ops = collections.Counter()
    for e in prof.key_averages():
        ops[e.key] += e.self_cpu_time_total / 1000.0 / a.reps
    groups = collections.Counter()
    for name, ms in ops.items():
        groups[GROUPS.get(name, "the rest")] += ms
    profiled = sum(ops.values())
    print(f"PyTorch {torch.__version__}, {a.profile} ({a.batch} x {seqlen}), {threads} threads: training pass"
          f" {1000 * statistics.median(wall):.1f} ms (median of {a.reps}, no profiler); operators' self time under"
          f" the profiler {profiled:.1f} ms a pass")
    print()
    print("| group | ms a pass | share of operators' time |\n|---|---:|---:|")
    for g, ms in groups.most_common():
        print(f"| {g} | {ms:.1f} | {100 * ms / profiled:.0f}% |")
    print()
    print("| operator | ms a pass |\n|---|---:|")
    for name, ms in ops.most_common(a.top):
        print(f"| {name} | {ms:.2f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seqlens", default="128,256")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--reps", type=int, default=7, help="timed passes of each kind, per round")
    ap.add_argument("--warmup", type=int, default=10, help="untimed passes of each kind first, per round")
    ap.add_argument("--rounds", type=int, default=3, help="turns each side takes (training passes, --prune)")
    ap.add_argument("--layers", type=int, default=2, help="blocks of the GPT-2-small shape")
    ap.add_argument("--shapes", default="", help="comma-separated row-name prefixes to keep (default: all)")
    ap.add_argument("--prune", action="store_true", help="compare one-shot pruning instead of training passes")
    ap.add_argument("--tasks", type=int, default=1,
                    help="sparseft's Spark tasks at a time (--prune), each with OMP_NUM_THREADS / tasks BLAS threads")
    ap.add_argument("--masks", metavar="ROWS,COLS", help="compare SparseGPT on one linear of this shape instead")
    ap.add_argument("--nsamples", type=int, default=16, help="calibration sequences (--prune)")
    ap.add_argument("--seqlen", type=int, default=256, help="tokens per calibration sequence (--prune), per sequence (--profile)")
    ap.add_argument("--profile", choices=sorted(PROFILE_SHAPES), help="profile PyTorch's training pass instead")
    ap.add_argument("--top", type=int, default=25, help="operators listed (--profile)")
    a = ap.parse_args()
    threads = int(os.environ.get("OMP_NUM_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    if a.masks:
        masks_table(a, threads)
        return
    if a.profile:
        profile_table(a, threads)
        return
    if a.prune:
        prune_table(a, threads)
        return
    keep = [s.strip() for s in a.shapes.split(",") if s.strip()]
    table = []
    for seqlen in (int(s) for s in a.seqlens.split(",")):
        rows = collections.OrderedDict()  # name -> lists over rounds: sparseft train, torch train, fwd, fwd, MFU
        for r in range(a.rounds):
            ours = sparseft_rows(a.batch, seqlen, a.warmup, a.reps, a.layers)
            for prefix, make in SHAPES:
                if keep and not any(prefix.startswith(k) for k in keep):
                    continue
                name = next((n for n in ours if n.startswith(prefix)), None)
                if name is None:
                    sys.exit(f"vs_torch.py: no '{prefix}' row in sparseft bench engine's output")
                cfg = make(a.layers)
                if seqlen > cfg["positions"]:
                    continue
                t_fwd, t_train = torch_row(cfg, a.batch, seqlen, a.warmup, a.reps)
                s_fwd, s_train, mfu = ours[name]
                row = rows.setdefault(name, ([], [], [], [], []))
                for values, v in zip(row, (s_train, t_train, s_fwd, t_fwd, float(mfu.rstrip("%")))):
                    values.append(v)
                print(f"  round {r + 1}: {name} {a.batch}x{seqlen}: sparseft {s_train:.0f}, torch {t_train:.0f}"
                      f" train tok/s; sparseft {s_fwd:.0f}, torch {t_fwd:.0f} forward", file=sys.stderr)
        for name, row in rows.items():
            table.append((name, f"{a.batch} x {seqlen}") + row)
    print(f"sparseft vs PyTorch {torch.__version__} eager float32, {threads} threads; tokens/s, each side's median over"
          f" {a.rounds} rounds of the median of {a.reps} passes after {a.warmup} untimed ones; the ratio of the medians,"
          " and in brackets the lowest and highest of the rounds' own ratios")
    print()
    print("| model | batch x seqlen | sparseft train | PyTorch train | ratio | sparseft forward | PyTorch forward"
          " | ratio | sparseft train MFU |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    med = statistics.median
    for name, shape, s_train, t_train, s_fwd, t_fwd, mfu in table:
        train_ratios = [s / t for s, t in zip(s_train, t_train)]
        fwd_ratios = [s / t for s, t in zip(s_fwd, t_fwd)]
        print(f"| {name} | {shape} | {med(s_train):.0f} | {med(t_train):.0f} |"
              f" {ratio_cell(med(s_train), med(t_train), train_ratios)} | {med(s_fwd):.0f} | {med(t_fwd):.0f} |"
              f" {ratio_cell(med(s_fwd), med(t_fwd), fwd_ratios)} | {med(mfu):.0f}% |")


if __name__ == "__main__":
    main()
