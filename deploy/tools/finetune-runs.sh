#!/usr/bin/env bash
# The sparse fine-tuning runs of docs/results.md: the shipped demo model fine-tuned by each setting for 300 steps of
# 8 x 256 tokens, validation perplexity every 50 steps on 100 windows (into each run's metrics.jsonl), then the
# exported model evaluated on the first 300 windows of 256 tokens of the Brown validation split, as in the pruning
# table; finally the plot of validation perplexity against step.
#   deploy/tools/finetune-runs.sh [OUT_DIR]            (needs demo-out/ from `deploy/bin/sparseft demo`)
#   RUNS="ast24 pst50" deploy/tools/finetune-runs.sh   (only some runs; dense is the dense baseline)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-/tmp/sparseft-finetune}"
bin="$root/deploy/bin/sparseft"
mkdir -p "$out"
declare -A args=(
  [ast24]="--method ast --pattern 2:4 --sync grad"
  [ast24avg]="--method ast --pattern 2:4 --sync average --every 10"
  [ast24slorb]="--method ast --pattern 2:4 --sync grad --ast-slorb-group 16"
  [pst50]="--method pst --sparsity 0.5 --pst-weight-rank 1 --pst-mask-rank 1"
  [pst70]="--method pst --sparsity 0.7 --pst-weight-rank 1 --pst-mask-rank 1"
  [dense]="pretrain --init, as below"
)
# dense: the baseline a reader needs beside them, the shipped model trained on (all weights, cross-entropy) for the
# same 300 steps of the same data in the same order, with AST's optimiser settings (lr 2e-4, no warmup, cosine to
# 2e-5, weight decay 0.1, beta2 0.95) and gradients summed every step
for name in ${RUNS:-dense ast24 pst50 ast24avg ast24slorb}; do
  started=$(date +%s)
  if [[ $name == dense ]]; then
    "$bin" pretrain --init "$root/deploy/demo/model" --config "$root/deploy/demo/model-config.json" \
      --out "$out/$name" --force --steps 300 --batch 8 --seqlen 256 --lr 2e-4 --warmup 0 --sync grad --partitions 2 \
      --dtype bf16 --seed 0 --tokens "$root/demo-out/tokens/train.safetensors" --checkpoint-every 0 --log-every 50 \
      --validation "$root/demo-out/tokens/validation.safetensors" --eval-windows 100 --eval-every 50 \
      >"$out/$name.log" 2>&1
  else
    # shellcheck disable=SC2086
    "$bin" finetune --model "$root/deploy/demo/model" --out "$out/$name" --force ${args[$name]} --steps 300 \
      --tokens "$root/demo-out/tokens/train.safetensors" --checkpoint-every 0 --log-every 50 \
      --validation "$root/demo-out/tokens/validation.safetensors" --eval-windows 100 --eval-every 50 \
      >"$out/$name.log" 2>&1
  fi
  seconds=$(( $(date +%s) - started ))
  ppl=$("$bin" evaluate --model "$out/$name" --data "$root/demo-out/data/brown/validation.txt" --seqlen 256 \
    --max-windows 300 2>/dev/null | awk '/^perplexity/ {print $2}')
  echo "| $name | ${args[$name]} | $ppl | $seconds s |"
done

# The plot of docs/results.md: each run's validation curve (first 100 windows) against dense and one-shot Wanda
# measured on the same windows.
ev() {
  "$bin" evaluate --model "$1" --tokens "$root/demo-out/tokens/validation.safetensors" --seqlen 256 \
    --max-windows 100 2>/dev/null | awk '/^perplexity/ {print $2}'
}
refs=(--reference "dense, shipped=$(ev "$root/deploy/demo/model")")
for target in "--pattern 2:4" "--sparsity 0.5"; do
  # shellcheck disable=SC2086
  "$bin" prune --model "$root/deploy/demo/model" --out "$out/wanda" --force --method wanda $target \
    --tokens "$root/demo-out/tokens/train.safetensors" --seqlen 256 --nsamples 128 --seed 0 >/dev/null 2>&1
  label=$([[ $target == *2:4 ]] && echo "one-shot Wanda 2:4" || echo "one-shot Wanda 50%")
  refs+=(--reference "$label=$(ev "$out/wanda")")
done
series=()
declare -A labels=([dense]="dense, trained on (grad)" [ast24]="AST 2:4 (grad)" [ast24avg]="AST 2:4 (average every 10)"
  [ast24slorb]="AST 2:4 + SLoRB 16 (grad)" [pst50]="PST 50%" [pst70]="PST 70%")
for name in ${RUNS:-dense ast24 pst50 ast24avg ast24slorb}; do
  series+=(--series "${labels[$name]}=$out/$name.run/metrics.jsonl")
done
"$bin" plot "${series[@]}" "${refs[@]}" --title "Demo model: validation perplexity (first 100 windows)" \
  --out "$out/finetune-val-ppl.png" --force
