#!/usr/bin/env bash
# Peak resident memory of one executor JVM during sparse fine-tuning, against the per-executor formula of
# docs/scaling.md. A standalone cluster of one 1-core worker runs `sparseft finetune` on a checkpoint of random
# weights (GPT-2-small shape by default, made once by `sparseft bench checkpoint`); while it runs, the executor's
# high-water mark of resident memory (VmHWM in /proc/PID/status: heap, ND4J's off-heap buffers, JVM overhead, and
# file pages it has mapped, such as shuffle files) and the largest anonymous resident memory seen (RssAnon, read
# every second: the same less mapped files) are recorded. One row per run.
#   deploy/tools/executor-memory.sh                      (runs: pst:grad ast:average ast:sharded)
#   RUNS="pst:grad ast:grad" STEPS=4 deploy/tools/executor-memory.sh
# Environment: WORK (default /tmp/sparseft-executor-memory), SHAPE (gpt2-small), RUNS (method:sync ...), STEPS (3),
# BATCH (2) x SEQLEN (64) tokens per step, EXECUTOR_MEMORY (the executor heap, 4g), WORKER_MEMORY (14g),
# SPARSEFT_DRIVER_MEMORY (the driver heap, sparseft-submit's default 4g), NMT=1 (executors run with the JVM's native
# memory tracking, and the summary taken nearest the peak is kept in WORK/METHOD-SYNC.nmt: heap, GC, threads, classes
# and direct buffers; ND4J's off-heap tensors are outside it, the rest of the resident memory).
# Needs jobs/target/sparseft.jar (mvn -B -q package -DskipTests).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="$root/deploy/bin"
work="${WORK:-/tmp/sparseft-executor-memory}"
shape="${SHAPE:-gpt2-small}"
runs=(${RUNS:-pst:grad ast:average ast:sharded})
steps="${STEPS:-3}"
batch="${BATCH:-2}"
seqlen="${SEQLEN:-64}"
heap="${EXECUTOR_MEMORY:-4g}"
worker_memory="${WORKER_MEMORY:-14g}"
port=7277
mkdir -p "$work"

dir="$work/$shape"
if [[ ! -f $dir/_SUCCESS ]]; then
  "$bin/sparseft" bench checkpoint --shape "$shape" --calibration-sequences 16 --seqlen "$seqlen" --out "$dir" \
    --force >&2
fi

cluster="$work/cluster"
if [[ "${NMT:-0}" == 1 ]]; then
  export JAVA_TOOL_OPTIONS="${JAVA_TOOL_OPTIONS:+$JAVA_TOOL_OPTIONS }-XX:NativeMemoryTracking=summary" # executors inherit
fi
OMP_NUM_THREADS=1 "$bin/sparseft-cluster" stop --dir "$cluster" >/dev/null 2>&1 || true
master=$(OMP_NUM_THREADS=1 "$bin/sparseft-cluster" start --dir "$cluster" --workers 1 --cores 1 \
  --memory "$worker_memory" --port "$port" | grep '^spark://')
trap 'OMP_NUM_THREADS=1 "$bin/sparseft-cluster" stop --dir "$cluster" >/dev/null 2>&1 || true' EXIT

rows=()
for run in "${runs[@]}"; do
  method="${run%%:*}" sync="${run##*:}"
  case "$method" in
    pst) target=(--sparsity 0.5) ;;
    ast) target=(--pattern 2:4) ;;
    *) echo "executor-memory.sh: $run: expected pst:SYNC or ast:SYNC" >&2; exit 2 ;;
  esac
  out="$work/out-$method-$sync" log="$work/$method-$sync.log"
  cmd=("$bin/sparseft-submit" --master "$master" --conf "spark.executor.memory=$heap" finetune
    --model "$dir/model" --tokens "$dir/calibration.safetensors" --method "$method" "${target[@]}"
    --steps "$steps" --batch "$batch" --seqlen "$seqlen" --partitions 1 --sync "$sync" --every 2
    --eval-every 0 --eval-windows 2 --log-every 1 --out "$out" --force)
  printf -v line '%q ' "${cmd[@]}"
  echo "+ $line" >&2
  "${cmd[@]}" >"$log" 2>&1 &
  submitted=$!
  peak_kb=0 anon_kb=0 nmt_rss=0
  rm -f "$work/$method-$sync.nmt"
  while kill -0 "$submitted" 2>/dev/null; do
    for pid in $(pgrep -f CoarseGrainedExecutorBackend || true); do
      read -r hwm anon rss < <(awk '/VmHWM/ { h = $2 } /RssAnon/ { a = $2 } /VmRSS/ { r = $2 }
        END { print h + 0, a + 0, r + 0 }' "/proc/$pid/status" 2>/dev/null || echo 0 0 0)
      (( ${hwm:-0} > peak_kb )) && peak_kb=$hwm
      (( ${anon:-0} > anon_kb )) && anon_kb=$anon
      if [[ "${NMT:-0}" == 1 ]] && (( ${rss:-0} > nmt_rss + 102400 )); then # 100 MB above the last summary kept
        { echo "VmRSS $rss kB"; jcmd "$pid" VM.native_memory summary scale=MB 2>/dev/null; } > "$work/nmt.tmp" &&
          mv "$work/nmt.tmp" "$work/$method-$sync.nmt" && nmt_rss=$rss
      fi
    done
    sleep 1
  done
  status=0
  wait "$submitted" || status=$?
  result=$(awk -v k="$peak_kb" -v a="$anon_kb" 'BEGIN { printf "%.2f | %.2f", k / 1048576, a / 1048576 }')
  [[ $status -eq 0 ]] || result="$result (failed, exit $status: see $log)"
  trained=$(sed -n 's/^trained .*, \([0-9]*\) s$/\1/p' "$log")
  rows+=("| $method | $sync | ${trained:-?} | $result |")
  model_line=$(sed -n 's/^model *//p' "$log" | head -1)
  rm -rf "$out" "$out.run"
done

echo
echo "executor memory: ${model_line:-$shape}; 1 executor of 1 core, heap $heap, driver heap" \
  "${SPARSEFT_DRIVER_MEMORY:-4g}; batch $batch x $seqlen, $steps steps"
echo
echo "| method | sync | training s | executor peak RSS (GiB) | executor peak anonymous RSS (GiB) |"
echo "|---|---|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
