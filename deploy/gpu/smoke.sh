#!/usr/bin/env bash
# GPU smoke test: the same work on ND4J's CPU backend and on its CUDA backend, compared.
#   deploy/gpu/smoke.sh [WORK]                    WORK defaults to /tmp/sparseft-gpu-smoke
# On a GPT-2-small-shaped checkpoint with seeded random weights (sparseft bench checkpoint), each backend runs
#   evaluate  perplexity of 8 windows of 256 tokens,
#   prune     Wanda 50% with 8 x 256 calibration tokens (every block),
#   finetune  3 AST 2:4 steps (distillation, decay), batch 2 x 64, --sync grad,
# and the script prints both sides' figures and exits 0 when the CUDA results match the CPU's within float32
# tolerances (perplexity and step losses to 1e-3 relative, at most 0.1% of mask entries differing), 1 when they do
# not, 2 when a build or a run failed. Needs Java 17 and Maven with their repository reachable (or already filled),
# and for the CUDA side an NVIDIA GPU with the CUDA 11.6 runtime and cuDNN 8.3 that ND4J's CUDA 11.6 backend loads
# (libcublas.so.11, libcusolver.so.11); Python 3 (no packages) compares.
# Environment: SMOKE_BACKENDS (default "cpu cuda"; "cpu cpu" checks the script on a machine without a GPU, where both
# sides must agree bit for bit), SMOKE_STEPS (AST steps, default 3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${1:-/tmp/sparseft-gpu-smoke}"
read -r -a backends <<< "${SMOKE_BACKENDS:-cpu cuda}"
steps="${SMOKE_STEPS:-3}"
if [[ ${#backends[@]} -ne 2 ]]; then
  echo "smoke: SMOKE_BACKENDS names two backends (the reference first), e.g. \"cpu cuda\"" >&2
  exit 2
fi
for b in "${backends[@]}"; do
  [[ "$b" == cpu || "$b" == cuda ]] || { echo "smoke: unknown backend '$b' in SMOKE_BACKENDS (cpu or cuda)" >&2; exit 2; }
done
mkdir -p "$work"
log="$work/smoke.log"
: > "$log"
step() { echo "smoke: $*" | tee -a "$log" >&2; }
fail() { echo "smoke: $* (log: $log)" >&2; exit 2; }

# One build per backend, each copied under WORK: the profile changes what jobs/target/spark-lib holds, so each is
# made from clean. The CPU build is made last, leaving jobs/target as the default build.
build() { # backend
  local b="$1" profile=()
  [[ "$b" == cuda ]] && profile=(-Pcuda)
  if [[ -f "$work/build-$b/sparseft.jar" ]]; then
    step "build $b: reusing $work/build-$b"
    return
  fi
  step "build $b: mvn ${profile[*]} clean package"
  (cd "$root" && mvn -B -q "${profile[@]}" clean package -DskipTests >> "$log" 2>&1) || fail "the $b build failed"
  rm -rf "$work/build-$b.tmp"
  mkdir -p "$work/build-$b.tmp"
  cp -r "$root/jobs/target/sparseft.jar" "$root/jobs/target/spark-lib" "$work/build-$b.tmp/"
  mv "$work/build-$b.tmp" "$work/build-$b"
}
for b in $(printf '%s\n' "${backends[@]}" | sort -u | sort -r); do # cuda before cpu
  build "$b"
done

sparseft() { # backend, command...
  local b="$1"
  shift
  SPARSEFT_BUILD="$work/build-$b" "$root/deploy/bin/sparseft" "$@"
}

model="$work/checkpoint"
if [[ ! -f "$model/_SUCCESS" ]]; then
  step "writing a GPT-2-small-shaped checkpoint (random weights) to $model"
  sparseft cpu bench checkpoint --shape gpt2-small --seqlen 256 --calibration-sequences 8 \
    --out "$model" --force >> "$log" 2>&1 || fail "bench checkpoint failed"
fi
tokens="$model/calibration.safetensors"

run_side() { # side name, backend
  local out="$work/$1" b="$2" version
  rm -rf "$out"
  mkdir -p "$out"
  version="$(sparseft "$b" --version 2>> "$log" | tail -1)"
  step "$1 ($b): $version"
  if [[ "$b" == cuda && "$version" != *JCublasBackend* ]]; then
    fail "the CUDA build did not load ND4J's CUDA backend ($version)"
  fi
  step "$1: evaluate"
  sparseft "$b" evaluate --model "$model/model" --tokens "$tokens" --seqlen 256 --max-windows 8 --batch 4 \
    --out "$out/evaluate.json" >> "$log" 2>&1 || fail "$1: evaluate failed"
  step "$1: prune (Wanda 50%)"
  sparseft "$b" prune --model "$model/model" --tokens "$tokens" --method wanda --sparsity 0.5 --nsamples 8 \
    --seqlen 256 --out "$out/pruned" >> "$log" 2>&1 || fail "$1: prune failed"
  step "$1: finetune (AST 2:4, $steps steps)"
  sparseft "$b" finetune --method ast --pattern 2:4 --model "$model/model" --tokens "$tokens" --steps "$steps" \
    --batch 2 --seqlen 64 --sync grad --eval-every 0 --checkpoint-every 0 --warmup 0 --out "$out/ast" \
    >> "$log" 2>&1 || fail "$1: finetune failed"
}
run_side reference "${backends[0]}"
run_side candidate "${backends[1]}"

python3 - "$work" "${backends[0]}" "${backends[1]}" <<'EOF'
import json, struct, sys

work, ref_name, cand_name = sys.argv[1:4]

def masks(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    return {k: body[v["data_offsets"][0]:v["data_offsets"][1]] for k, v in header.items() if k != "__metadata__"}

def losses(path):
    with open(path) as f:
        return [json.loads(l)["loss"] for l in f if l.strip() and "loss" in json.loads(l)]

rows, ok = [], True
def check(what, ref, cand, bad, limit):
    global ok
    passed = bad <= limit
    ok &= passed
    rows.append((what, ref, cand, f"{bad:.3g} (limit {limit:g})", "ok" if passed else "DIFFERS"))

e = [json.load(open(f"{work}/{s}/evaluate.json")) for s in ("reference", "candidate")]
check("perplexity, 8 x 256", f"{e[0]['perplexity']:.6f}", f"{e[1]['perplexity']:.6f}",
      abs(e[1]["perplexity"] / e[0]["perplexity"] - 1), 1e-3)

m = [masks(f"{work}/{s}/pruned/masks.safetensors") for s in ("reference", "candidate")]
if m[0].keys() != m[1].keys():
    ok = False
    rows.append(("mask tensors", len(m[0]), len(m[1]), "different names", "DIFFERS"))
else:
    # U8 masks of 0 and 1: the set bits of a XOR b count the entries that differ
    total = sum(len(v) for v in m[0].values())
    differ = sum(bin(int.from_bytes(m[0][k], "little") ^ int.from_bytes(m[1][k], "little")).count("1")
                 for k in m[0])
    kept = [sum(len(v) - v.count(0) for v in side.values()) / total for side in m]
    check("Wanda 50% masks: kept fraction", f"{kept[0]:.6f}", f"{kept[1]:.6f}", differ / total, 1e-3)

l = [losses(f"{work}/{s}/ast.run/metrics.jsonl") for s in ("reference", "candidate")]
for i, (a, b) in enumerate(zip(*l)):
    check(f"AST 2:4 step {i + 1} loss", f"{a:.6f}", f"{b:.6f}", abs(b / a - 1), 1e-3)
if len(l[0]) != len(l[1]) or not l[0]:
    ok = False
    rows.append(("AST steps", len(l[0]), len(l[1]), "different counts", "DIFFERS"))

print(f"| check | {ref_name} | {cand_name} | relative difference / share differing | result |")
print("|---|---:|---:|---:|---|")
for r in rows:
    print("| " + " | ".join(str(x) for x in r) + " |")
sys.exit(0 if ok else 1)
EOF
