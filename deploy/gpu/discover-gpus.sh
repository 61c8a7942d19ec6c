#!/usr/bin/env bash
# Spark GPU discovery script (spark.executor.resource.gpu.discoveryScript, and for standalone workers
# spark.worker.resource.gpu.discoveryScript): prints the GPUs as Spark's resource JSON,
#   {"name": "gpu", "addresses": ["0", "1"]}
# The addresses are CUDA device ordinals as CUDA numbers them in a process with this script's environment, so a
# task can pin to its address as is (org.sparseft.driver.exec.TaskDevices):
# - CUDA_VISIBLE_DEVICES unset: nvidia-smi's indices (nvidia-smi ignores the variable; CUDA then numbers alike).
# - CUDA_VISIBLE_DEVICES set: CUDA renumbers the visible devices 0..k-1 in the order listed, so "1" prints ["0"]
#   and "2,3" prints ["0", "1"]. Entries are indices, GPU UUIDs (GPU-...) or MIG ids (MIG-...). As in CUDA, the
#   list ends at the first entry that is neither, or at an index nvidia-smi does not list; set but empty: no GPU.
# Standalone executors inherit the worker's environment, and YARN or Kubernetes executors run this script in
# their own container, so the reported ordinals are valid where the tasks run. No GPU prints an empty list.
set -uo pipefail

indices=""
if command -v nvidia-smi >/dev/null 2>&1; then
  indices="$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | tr -d ' \r' | grep -E '^[0-9]+$')"
fi

ordinals=()
if [[ -n "${CUDA_VISIBLE_DEVICES+set}" ]]; then
  IFS=',' read -r -a entries <<< "$CUDA_VISIBLE_DEVICES"
  for e in "${entries[@]}"; do
    e="${e//[[:space:]]/}"
    if [[ "$e" =~ ^[0-9]+$ ]]; then
      # An index that does not exist hides it and all after it (when nvidia-smi could tell).
      if [[ -n "$indices" ]] && ! grep -qx "$((10#$e))" <<< "$indices"; then
        break
      fi
    elif [[ ! "$e" =~ ^(GPU|MIG)-[^[:space:]]+$ ]]; then
      break
    fi
    ordinals+=("${#ordinals[@]}")
  done
else
  while IFS= read -r i; do
    [[ -n "$i" ]] && ordinals+=("$i")
  done <<< "$indices"
fi

json=""
for o in "${ordinals[@]+"${ordinals[@]}"}"; do
  json="${json:+$json, }\"$o\""
done
printf '{"name": "gpu", "addresses": [%s]}\n' "$json"
