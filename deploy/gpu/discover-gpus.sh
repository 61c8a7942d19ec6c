#!/usr/bin/env bash
# Spark GPU discovery script (spark.executor.resource.gpu.discoveryScript, and for standalone workers
# spark.worker.resource.gpu.discoveryScript): prints the CUDA devices nvidia-smi sees as Spark's resource JSON,
#   {"name": "gpu", "addresses": ["0", "1"]}
# CUDA_VISIBLE_DEVICES, when set, limits the list (as CUDA itself would). No GPU prints an empty address list.
set -uo pipefail

indices=""
if command -v nvidia-smi >/dev/null 2>&1; then
  indices="$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | tr -d ' \r')"
fi
if [[ -n "${CUDA_VISIBLE_DEVICES:-}" ]]; then
  indices="$(tr ',' '\n' <<< "$CUDA_VISIBLE_DEVICES" | tr -d ' ')"
fi
json=""
while IFS= read -r i; do
  [[ "$i" =~ ^[0-9]+$ ]] || continue
  json="${json:+$json, }\"$i\""
done <<< "$indices"
printf '{"name": "gpu", "addresses": [%s]}\n' "$json"
