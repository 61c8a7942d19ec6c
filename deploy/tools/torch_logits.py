#!/usr/bin/env python3
"""Cross-check of sparseft's logits against an independent PyTorch forward pass.

    deploy/bin/sparseft evaluate --model DIR --tokens FILE --dump-logits dump.safetensors --dump-n 2 ...
    /usr/bin/python3 deploy/tools/torch_logits.py DIR dump.safetensors

Reads the Hugging Face checkpoint directory (config.json, model.safetensors or a sharded index; F32/F16/BF16) with
plain numpy, runs the GPT-2, OPT or LLaMA-layout (LLaMA with rope scaling, Mistral, Qwen2, Qwen3, sliding windows)
forward pass in float32 PyTorch on the dumped input_ids, and compares the result with the dumped logits. Needs Debian's python3-torch; it is a checking tool, never a dependency of sparseft.
Exit status 0 when the largest absolute difference is within --tolerance, 1 otherwise.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "I32": np.int32, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        a = np.frombuffer(data[start:end], dtype=DTYPES[info["dtype"]])
        if info["dtype"] == "BF16":  # bfloat16 is the top half of a float32
            a = (a.astype(np.uint32) << 16).view(np.float32)
        out[name] = torch.from_numpy(a.astype(a.dtype if a.dtype.kind == "i" else np.float32).reshape(info["shape"]))
    return out


def read_checkpoint(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for name in files:
        tensors.update(read_safetensors(os.path.join(model_dir, name)))
    return tensors


def gpt2_logits(cfg, w, ids):
    def p(name):  # GPT-2 checkpoints come with and without the "transformer." prefix
        return w[name] if name in w else w["transformer." + name]

    eps = cfg.get("layer_norm_epsilon", 1e-5)
    d = cfg["n_embd"]
    heads = cfg["n_head"]
    B, T = ids.shape
    x = p("wte.weight")[ids] + p("wpe.weight")[torch.arange(T)]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(cfg["n_layer"]):
        h = f"h.{i}."
        a = torch.nn.functional.layer_norm(x, (d,), p(h + "ln_1.weight"), p(h + "ln_1.bias"), eps)
        qkv = a @ p(h + "attn.c_attn.weight") + p(h + "attn.c_attn.bias")  # Conv1D: weight is [in, out]
        q, k, v = (t.view(B, T, heads, d // heads).transpose(1, 2) for t in qkv.split(d, dim=2))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(d // heads)
        s = s.masked_fill(~causal, float("-inf")).softmax(-1)
        o = (s @ v).transpose(1, 2).reshape(B, T, d)
        x = x + o @ p(h + "attn.c_proj.weight") + p(h + "attn.c_proj.bias")
        m = torch.nn.functional.layer_norm(x, (d,), p(h + "ln_2.weight"), p(h + "ln_2.bias"), eps)
        m = torch.nn.functional.gelu(m @ p(h + "mlp.c_fc.weight") + p(h + "mlp.c_fc.bias"), approximate="tanh")
        x = x + m @ p(h + "mlp.c_proj.weight") + p(h + "mlp.c_proj.bias")
    x = torch.nn.functional.layer_norm(x, (d,), p("ln_f.weight"), p("ln_f.bias"), eps)
    return x @ p("wte.weight").T


def scaled_inv_freq(inv_freq, scaling):
    """rope_scaling as transformers' rope initialisation functions apply it (default, linear, llama3)."""
    kind = (scaling or {}).get("rope_type", (scaling or {}).get("type", "default"))
    if kind == "default":
        return inv_freq
    if kind == "linear":
        return inv_freq / scaling["factor"]
    if kind == "llama3":
        factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
        old = scaling["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv_freq
        out = torch.where(wavelen > old / low, inv_freq / factor, inv_freq)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * out / factor + smooth * out
        medium = ~(wavelen < old / high) & ~(wavelen > old / low)
        return torch.where(medium, smoothed, out)
    raise SystemExit(f"rope_scaling {kind} not implemented here")


def sliding_windows(cfg):
    """Each layer's attention window (None: full), read as the transformers config classes read it."""
    n = cfg["num_hidden_layers"]
    window = cfg.get("sliding_window", 4096)
    if "layer_types" in cfg:
        return [window if t == "sliding_attention" else None for t in cfg["layer_types"]]
    if cfg["model_type"] == "mistral":
        return [window] * n
    if cfg["model_type"] in ("qwen2", "qwen3") and cfg.get("use_sliding_window", False):
        first = cfg.get("max_window_layers", 28)
        return [window if i >= first else None for i in range(n)]
    return [None] * n


def llama_logits(cfg, w, ids):
    """LLaMA, Mistral, Qwen2 and Qwen3: biases wherever the checkpoint has them, Qwen3's q/k norms when present."""
    d = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", heads)
    hd = cfg.get("head_dim") or (128 if cfg["model_type"] == "qwen3" else d // heads)
    eps = cfg.get("rms_norm_eps", 1e-6)
    theta = cfg.get("rope_theta", 10000.0)
    B, T = ids.shape
    windows = sliding_windows(cfg)

    def rms(x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight

    def linear(x, name):
        y = x @ w[name + ".weight"].T
        return y + w[name + ".bias"] if name + ".bias" in w else y

    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    inv_freq = scaled_inv_freq(inv_freq, cfg.get("rope_scaling"))
    freqs = torch.outer(torch.arange(T).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()

    def rotate_half(t):
        h = t.shape[-1] // 2
        return torch.cat((-t[..., h:], t[..., :h]), dim=-1)

    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    x = w["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}."
        a = rms(x, w[pre + "input_layernorm.weight"])
        q = linear(a, pre + "self_attn.q_proj").view(B, T, heads, hd)
        k = linear(a, pre + "self_attn.k_proj").view(B, T, kv, hd)
        if pre + "self_attn.q_norm.weight" in w:  # Qwen3: RMSNorm of each head's vector, before RoPE
            q = rms(q, w[pre + "self_attn.q_norm.weight"])
            k = rms(k, w[pre + "self_attn.k_norm.weight"])
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = linear(a, pre + "self_attn.v_proj").view(B, T, kv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(heads // kv, dim=1)  # each KV head serves heads/kv consecutive query heads
        v = v.repeat_interleave(heads // kv, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        visible = causal
        if windows[i] is not None:  # key j visible from query i when i - window < j <= i
            visible = causal & ~torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=-windows[i])
        s = s.masked_fill(~visible, float("-inf")).softmax(-1)
        o = (s @ v).transpose(1, 2).reshape(B, T, heads * hd)
        x = x + linear(o, pre + "self_attn.o_proj")
        m = rms(x, w[pre + "post_attention_layernorm.weight"])
        m = torch.nn.functional.silu(linear(m, pre + "mlp.gate_proj")) * linear(m, pre + "mlp.up_proj")
        x = x + linear(m, pre + "mlp.down_proj")
    x = rms(x, w["model.norm.weight"])
    head = w["lm_head.weight"] if "lm_head.weight" in w else w["model.embed_tokens.weight"]
    return x @ head.T


def opt_logits(cfg, w, ids):
    """OPT: learned positions at offset 2, pre-LN (or post-LN, OPT-350m), ReLU, optional project_in/out."""
    def p(name):  # the original checkpoints name tensors as OPTModel does, without "model."
        return w[name] if name in w else w[name[len("model."):]]

    def has(name):
        return name in w or name[len("model."):] in w

    d = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    hd = d // heads
    pre = cfg.get("do_layer_norm_before", True)
    B, T = ids.shape

    def ln(x, name):
        return torch.nn.functional.layer_norm(x, (d,), p(name + ".weight"), p(name + ".bias"), 1e-5)

    def linear(x, name):
        y = x @ p(name + ".weight").T
        return y + p(name + ".bias") if has(name + ".bias") else y

    x = p("model.decoder.embed_tokens.weight")[ids]
    if has("model.decoder.project_in.weight"):
        x = linear(x, "model.decoder.project_in")
    x = x + p("model.decoder.embed_positions.weight")[torch.arange(T) + 2]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(cfg["num_hidden_layers"]):
        pre_ = f"model.decoder.layers.{i}."
        h = ln(x, pre_ + "self_attn_layer_norm") if pre else x
        q = (linear(h, pre_ + "self_attn.q_proj") * hd ** -0.5).view(B, T, heads, hd).transpose(1, 2)
        k = linear(h, pre_ + "self_attn.k_proj").view(B, T, heads, hd).transpose(1, 2)
        v = linear(h, pre_ + "self_attn.v_proj").view(B, T, heads, hd).transpose(1, 2)
        s = (q @ k.transpose(-1, -2)).masked_fill(~causal, float("-inf")).softmax(-1)
        x = x + linear((s @ v).transpose(1, 2).reshape(B, T, d), pre_ + "self_attn.out_proj")
        if not pre:
            x = ln(x, pre_ + "self_attn_layer_norm")
        h = ln(x, pre_ + "final_layer_norm") if pre else x
        x = x + linear(torch.relu(linear(h, pre_ + "fc1")), pre_ + "fc2")
        if not pre:
            x = ln(x, pre_ + "final_layer_norm")
    if has("model.decoder.final_layer_norm.weight"):
        x = ln(x, "model.decoder.final_layer_norm")
    if has("model.decoder.project_out.weight"):
        x = linear(x, "model.decoder.project_out")
    head = w["lm_head.weight"] if "lm_head.weight" in w else p("model.decoder.embed_tokens.weight")
    return x @ head.T


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="Hugging Face checkpoint directory")
    ap.add_argument("dump", help="safetensors file written by sparseft evaluate --dump-logits")
    ap.add_argument("--tolerance", type=float, default=1e-3, help="largest allowed absolute logit difference")
    args = ap.parse_args()
    torch.set_num_threads(2)
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    weights = read_checkpoint(args.model)
    dump = read_safetensors(args.dump)
    ids = dump["input_ids"].long()
    ours = dump["logits"]
    with torch.no_grad():
        forward = {"gpt2": gpt2_logits, "opt": opt_logits}.get(cfg["model_type"], llama_logits)
        ref = forward(cfg, weights, ids)
    diff = (ref - ours).abs()
    targets = ids[:, 1:]

    def nll(logits):
        return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1))

    agree = (ref.argmax(-1) == ours.argmax(-1)).float().mean().item()
    print(f"model          {cfg['model_type']}, {sum(t.numel() for t in weights.values()):,} tensor values")
    print(f"windows        {ids.shape[0]} x {ids.shape[1]} tokens, vocabulary {ours.shape[-1]}")
    print(f"max |diff|     {diff.max().item():.3e}  (largest |logit| {ref.abs().max().item():.2f})")
    print(f"mean |diff|    {diff.mean().item():.3e}")
    print(f"argmax agrees  {agree * 100:.2f}% of positions")
    print(f"mean NLL       torch {nll(ref).item():.6f}  sparseft {nll(ours).item():.6f}")
    ok = diff.max().item() <= args.tolerance
    print("PASS" if ok else f"FAIL: difference above --tolerance {args.tolerance}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
