#!/usr/bin/env bash
# Wall time and peak resident memory of one-shot pruning at real model sizes: for each named shape, a checkpoint of
# random weights (`sparseft bench checkpoint`, made once and reused) is pruned at 50% unstructured sparsity by
# `sparseft prune` under /usr/bin/time, which reports the JVM's wall seconds and maximum RSS (heap, ND4J's off-heap
# buffers, page cache excluded). The table says whether a shape fits the machine's memory at a given driver heap.
#   deploy/tools/memory-budget.sh [SHAPE...]      (default: tinyllama-1.1b llama-2-7b; see `sparseft bench checkpoint -h`)
#   SPARSEFT_DRIVER_MEMORY=16g METHOD=sparsegpt NSAMPLES=16 SEQLEN=1024 deploy/tools/memory-budget.sh llama-2-7b
# Environment: WORK (default /tmp/sparseft-memory: checkpoints are kept there, 2.2 GB for TinyLlama and 13.5 GB
# for Llama-2-7B in bf16), METHOD (wanda), NSAMPLES (8) x SEQLEN (512) calibration tokens, DTYPE (bf16), MASTER
# (Spark master for prune; default: the launcher's local[*]), SPARSEFT_DRIVER_MEMORY (the launcher's -Xmx, 6g if
# unset). Needs jobs/target/sparseft.jar (mvn -B -q package -DskipTests) and GNU time at /usr/bin/time.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="$root/deploy/bin/sparseft"
work="${WORK:-/tmp/sparseft-memory}"
method="${METHOD:-wanda}"
nsamples="${NSAMPLES:-8}"
seqlen="${SEQLEN:-512}"
dtype="${DTYPE:-bf16}"
shapes=("$@")
[[ ${#shapes[@]} -gt 0 ]] || shapes=(tinyllama-1.1b llama-2-7b)
if [[ ! -x /usr/bin/time ]]; then
  echo "memory-budget.sh: /usr/bin/time (GNU time) is needed; e.g. apt-get install time" >&2
  exit 2
fi
mkdir -p "$work"

commands=()
show() { # prints a command line (to stderr) and records it for the summary
  local line
  printf -v line '%q ' "$@"
  commands+=("${line% }")
  echo "+ ${line% }" >&2
}
master=()
[[ -z ${MASTER:-} ]] || master=(--master "$MASTER")

# The header of a safetensors file (8-byte little-endian length, then JSON).
header() {
  local len
  len=$(od -An -t u8 -N 8 "$1" | tr -d ' ')
  tail -c +9 "$1" | head -c "$len"
}

# Tensor bytes of a checkpoint's weight files: each file's size less its header.
tensor_bytes() {
  local total=0 f len
  for f in "$1"/*.safetensors; do
    len=$(od -An -t u8 -N 8 "$f" | tr -d ' ')
    total=$(( total + $(stat -c %s "$f") - 8 - len ))
  done
  echo "$total"
}

declare -A width=([bf16]=2 [f16]=2 [f32]=4)
declare -A torch=([bf16]=bfloat16 [f16]=float16 [f32]=float32)
[[ -n ${width[$dtype]:-} ]] || { echo "memory-budget.sh: DTYPE=$dtype: expected bf16, f16 or f32" >&2; exit 2; }

rows=()
for shape in "${shapes[@]}"; do
  dir="$work/$shape"
  # reuse a complete checkpoint of the same dtype whose calibration file holds exactly NSAMPLES x SEQLEN tokens
  if [[ -f $dir/_SUCCESS ]] && grep -q "\"torch_dtype\" : \"${torch[$dtype]}\"" "$dir/model/config.json" \
      && header "$dir/calibration.safetensors" | grep -q "\"shape\":\[$nsamples,$seqlen\]"; then
    echo "reusing $dir" >&2
  else
    make=("$bin" bench checkpoint --shape "$shape" --dtype "$dtype" --calibration-sequences "$nsamples"
      --seqlen "$seqlen" --out "$dir" --force)
    show "${make[@]}"
    "${make[@]}" >&2
  fi
  parameters=$(( $(tensor_bytes "$dir/model") / ${width[$dtype]} ))

  out="$work/pruned-$shape"
  log="$work/prune-$shape.log"
  timing="$work/prune-$shape.time"
  prune=(/usr/bin/time -f '%e %M' -o "$timing" "$bin" prune --model "$dir/model"
    --tokens "$dir/calibration.safetensors" --method "$method" --sparsity 0.5 --nsamples "$nsamples"
    --seqlen "$seqlen" --out "$out" --force "${master[@]}")
  show "${prune[@]}"
  status=0
  "${prune[@]}" >"$log" 2>&1 || status=$? # a run out of memory is a result too: its row says so
  rm -rf "$out"
  read -r seconds rss_kb < <(tail -n 1 "$timing")
  wall=$(awk -v s="$seconds" 'BEGIN { printf "%d:%02d", s / 60, s % 60 }')
  rss=$(awk -v k="$rss_kb" 'BEGIN { printf "%.2f", k / 1048576 }')
  if [[ $status -ne 0 ]]; then
    wall="$wall (failed, exit $status: see $log)"
  fi
  rows+=("| $shape | $(sed ':a; s/\B[0-9]\{3\}\>/,&/; ta' <<<"$parameters") | $dtype | $nsamples x $seqlen | $method | $wall | $rss |")
done

echo
echo "sparseft prune peak memory: SPARSEFT_DRIVER_MEMORY=${SPARSEFT_DRIVER_MEMORY:-6g (launcher default)}," \
  "$(nproc) cores, $(awk '/MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo) GiB RAM${MASTER:+, --master $MASTER}"
echo
echo "| shape | parameters | dtype | calibration sequences x seqlen | method | wall time (m:ss) | peak RSS (GiB) |"
echo "|---|---:|---|---|---|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "Commands run:"
printf '    %s\n' "${commands[@]}"
