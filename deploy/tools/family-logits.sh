#!/usr/bin/env bash
# Logits of each model family beyond GPT-2 against the independent float32 PyTorch forward of deploy/tools/torch_logits.py
# (docs/results.md, "Logits against an independent PyTorch forward pass"): a small model of each family (width 64,
# 2 layers, GQA 4/2, byte vocabulary) is trained 100 steps on the Brown train split, so its logits are far from
# uniform, then 4 windows of 128 tokens are compared. The configs switch on what each family adds: LLaMA-3.1's
# rope scaling with attention and MLP biases, Mistral's sliding window (32, shorter than the windows), Qwen2's q/k/v
# biases with a sliding second layer and a tied head, Qwen3's per-head q/k norms with head_dim 32 ≠ 64/4, OPT
# (pre-LN, tied) and OPT-350m's layout (post-LN, embeddings of 32 projected in and out of 64). Each
# model is then pruned to 2:4 with SparseGPT and its export compared the same way.
#   deploy/tools/family-logits.sh [OUT_DIR]        (needs demo-out/ from `deploy/bin/sparseft demo`, python3-torch)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-/tmp/sparseft-family-logits}"
bin="$root/deploy/bin/sparseft"
mkdir -p "$out"
common='"vocab_size":257,"hidden_size":64,"intermediate_size":160,"num_hidden_layers":2,"num_attention_heads":4,
 "num_key_value_heads":2,"max_position_embeddings":256,"hidden_act":"silu"'
declare -A configs=(
  [llama31]='{"model_type":"llama",'"$common"',"rope_theta":500000.0,"attention_bias":true,"mlp_bias":true,
    "rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,
    "original_max_position_embeddings":64}}'
  [mistral]='{"model_type":"mistral",'"$common"',"rope_theta":10000.0,"sliding_window":32}'
  [qwen2]='{"model_type":"qwen2",'"$common"',"rope_theta":1000000.0,"tie_word_embeddings":true,
    "use_sliding_window":true,"sliding_window":32,"max_window_layers":1}'
  [qwen3]='{"model_type":"qwen3",'"$common"',"head_dim":32,"rope_theta":1000000.0,"attention_bias":false}'
  [opt]='{"model_type":"opt","vocab_size":257,"hidden_size":64,"ffn_dim":160,"num_hidden_layers":2,
    "num_attention_heads":4,"max_position_embeddings":256,"word_embed_proj_dim":64,"do_layer_norm_before":true}'
  [opt350]='{"model_type":"opt","vocab_size":257,"hidden_size":64,"ffn_dim":160,"num_hidden_layers":2,
    "num_attention_heads":4,"max_position_embeddings":256,"word_embed_proj_dim":32,"do_layer_norm_before":false}'
)
echo "| family | windows | max abs difference | mean abs difference | argmax agreement | mean NLL torch / sparseft |"
echo "|---|---|---:|---:|---:|---|"
for family in llama31 mistral qwen2 qwen3 opt opt350; do
  echo "${configs[$family]}" > "$out/$family-config.json"
  "$bin" pretrain --config "$out/$family-config.json" --tokens "$root/demo-out/tokens/train.safetensors" \
    --out "$out/$family" --force --steps 100 --seqlen 128 --eval-every 0 --lr 3e-3 >"$out/$family.log" 2>&1
  # and its export after SparseGPT 2:4, read by the reference as any loader would read it
  "$bin" prune --model "$out/$family" --out "$out/$family-2of4" --force --method sparsegpt --pattern 2:4 \
    --tokens "$root/demo-out/tokens/train.safetensors" --seqlen 128 --nsamples 32 >>"$out/$family.log" 2>&1
  for model in "$family" "$family-2of4"; do
    "$bin" evaluate --model "$out/$model" --tokens "$root/demo-out/tokens/validation.safetensors" --seqlen 128 \
      --max-windows 8 --dump-logits "$out/$model-dump.safetensors" --dump-n 4 --force >>"$out/$family.log" 2>&1
    r=$(/usr/bin/python3 "$root/deploy/tools/torch_logits.py" "$out/$model" "$out/$model-dump.safetensors" || true)
    field() { echo "$r" | awk -v k="$1" 'index($0, k) == 1 {s = substr($0, length(k) + 1); sub(/^ +/, "", s); print s}'; }
    echo "| ${model/-2of4/, SparseGPT 2:4 export} | $(field windows | cut -d, -f1) |" \
      "$(field 'max |diff|' | sed 's/ *(largest |logit| / (largest logit /') | $(field 'mean |diff|') |" \
      "$(field 'argmax agrees' | cut -d' ' -f1) | $(field 'mean NLL' | sed 's/torch //; s/  sparseft / \/ /') |"
    echo "$r" | grep -q '^PASS' || { echo "$model: FAIL" >&2; echo "$r" >&2; }
  done
done
