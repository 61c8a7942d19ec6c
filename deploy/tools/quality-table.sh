#!/usr/bin/env bash
# The side-by-side one-shot table of docs/results.md ("Beyond the one-shot anchors"): each method alone, with OWL's
# block sparsities, with the OBS update of kept weights, and with block-wise recovery, at each target; every cell the
# validation perplexity (the first 300 windows of 256 tokens of the Brown validation split) and the prune's wall time.
#   deploy/tools/quality-table.sh [OUT_DIR]         (needs demo-out/ from `deploy/bin/sparseft demo`)
#   MODEL=deploy/demo/wide-model deploy/tools/quality-table.sh     (another model; default: the demo model)
#   METHODS="wanda sparsegpt" VARIANTS="alone recover" deploy/tools/quality-table.sh       (some rows only)
#   RECOVER_STEPS=64 RECOVER_LR=3e-3 deploy/tools/quality-table.sh      (recovery's settings; default 32 and 1e-3)
#   RECOVER_HOLDOUT=0 deploy/tools/quality-table.sh                 (sequences held out; default the command's, 16)
#   VARIANTS="obs+recover" deploy/tools/quality-table.sh           (the OBS update, then recovery from its weights)
#   TARGETS="0.7 2:4" deploy/tools/quality-table.sh                (some columns only; default 0.5 0.6 0.7 2:4 4:8)
# Rows print as they finish. OWL is unstructured only and SparseGPT updates its kept weights itself: those cells
# read "n/a".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-/tmp/sparseft-quality-table}"
bin="$root/deploy/bin/sparseft"
model="${MODEL:-$root/deploy/demo/model}"
calib="$root/demo-out/tokens/train.safetensors"
val="$root/demo-out/data/brown/validation.txt"
methods="${METHODS:-magnitude wanda dsnot sparsegpt}"
variants="${VARIANTS:-alone owl obs recover}"
steps="${RECOVER_STEPS:-32}"
lr="${RECOVER_LR:-1e-3}"
holdout="${RECOVER_HOLDOUT:-16}"
targets=()
for t in ${TARGETS:-0.5 0.6 0.7 2:4 4:8}; do
  if [[ $t == *:* ]]; then targets+=("--pattern $t"); else targets+=("--sparsity $t"); fi
done
mkdir -p "$out"
ppl() {
  "$bin" evaluate --model "$1" --data "$val" --seqlen 256 --max-windows 300 2>/dev/null \
    | awk '/^perplexity/ {print $2}'
}
header="| method | variant |"; rule="|---|---|"
for target in "${targets[@]}"; do header="$header ${target#--} |"; rule="$rule---:|"; done
echo "$header"; echo "$rule"
dense="| dense | | $(ppl "$model") |"
for _ in $(seq 2 ${#targets[@]}); do dense="$dense |"; done
echo "$dense"
for method in $methods; do
  for variant in $variants; do
    case "$variant" in
      alone) extra=() ;;
      owl) extra=(--sparsity-profile owl) ;;
      obs) extra=(--update obs) ;;
      recover) extra=(--recover-steps "$steps" --recover-lr "$lr" --recover-holdout "$holdout") ;;
      obs+recover) extra=(--update obs --recover-steps "$steps" --recover-lr "$lr" --recover-holdout "$holdout") ;;
      *) echo "unknown variant $variant (alone, owl, obs, recover, obs+recover)" >&2; exit 2 ;;
    esac
    row="| $method | $variant |"
    for target in "${targets[@]}"; do
      if { [[ $variant == owl && $target == --pattern* ]]; } || { [[ $variant == obs* && $method == sparsegpt ]]; }; then
        row="$row n/a |"; continue
      fi
      start=$(date +%s)
      # shellcheck disable=SC2086
      if "$bin" prune --model "$model" --out "$out/model" --force --method "$method" $target \
          --tokens "$calib" --seqlen 256 --nsamples 128 --seed 0 "${extra[@]}" >"$out/prune.log" 2>&1; then
        row="$row $(ppl "$out/model") ($(( $(date +%s) - start )) s) |"
      else
        row="$row failed: $(tail -1 "$out/prune.log") |"
      fi
    done
    echo "$row"
  done
done
