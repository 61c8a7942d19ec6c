#!/usr/bin/env bash
# The one-shot pruning results table of docs/results.md: the shipped demo model pruned by each method at each
# target, then validation perplexity (the first 300 windows of 256 tokens of the Brown validation split).
#   deploy/tools/prune-table.sh [OUT_DIR]     (needs demo-out/ from `deploy/bin/sparseft demo`)
#   METHODS="sparsegpt" deploy/tools/prune-table.sh    (only some columns)
#   UPDATE=obs METHODS="magnitude wanda dsnot" deploy/tools/prune-table.sh    (with the OBS update of kept weights)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-/tmp/sparseft-prune-table}"
bin="$root/deploy/bin/sparseft"
calib="$root/demo-out/tokens/train.safetensors"
val="$root/demo-out/data/brown/validation.txt"
mkdir -p "$out"
ppl() {
  "$bin" evaluate --model "$1" --data "$val" --seqlen 256 --max-windows 300 2>/dev/null \
    | awk '/^perplexity/ {print $2}'
}
methods="${METHODS:-magnitude wanda dsnot sparsegpt}"
header="| target |"; rule="|---|"; dense="| dense | $(ppl "$root/deploy/demo/model") |"
for method in $methods; do header="$header $method |"; rule="$rule---:|"; done
for _ in $(seq 2 "$(wc -w <<<"$methods")"); do dense="$dense |"; done
echo "$header"; echo "$rule"; echo "$dense"
for target in "--sparsity 0.5" "--sparsity 0.6" "--sparsity 0.7" "--pattern 2:4" "--pattern 4:8"; do
  row="| ${target#--} |"
  for method in $methods; do
    # shellcheck disable=SC2086
    "$bin" prune --model "$root/deploy/demo/model" --out "$out/model" --force --method "$method" $target \
      --tokens "$calib" --seqlen 256 --nsamples 128 --seed 0 ${UPDATE:+--update "$UPDATE"} >/dev/null 2>&1
    row="$row $(ppl "$out/model") |"
  done
  echo "$row"
done
