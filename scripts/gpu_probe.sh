#!/usr/bin/env bash
# Run the probe's calibration matrix on a CUDA GPU and save the results with the GPU's name.
#
#   scripts/gpu_probe.sh [OUTDIR]      (default: probe-results/)
#
# Installs the project with its probe extra if needed (torch must already be a CUDA build), then runs:
#   1. llm-budget probe --matrix         (torch.cuda.max_memory_allocated against every estimate)
#   2. one large single-model probe      (llama3-8b, 2 blocks extrapolated to 32, bf16 mixed)
#   3. the FSDP2 probe on every GPU      (when there are 2 or more)
# and writes cuda-matrix-<gpu>.json, cuda-llama3-8b-<gpu>.json and a summary.txt into OUTDIR.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-probe-results}"
mkdir -p "$out"
python3 -c "import llm_budget, torch" 2>/dev/null || python3 -m pip install -q -e ".[probe,dev]"
python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'" || exit 2
gpu=$(python3 -c "import torch; print(torch.cuda.get_device_name().replace(' ', '-'))")
info=$(python3 -c "import torch; print(f'{torch.cuda.get_device_name()} · torch {torch.__version__} · CUDA {torch.version.cuda}')")
echo "$info" | tee "$out/summary.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$out/summary.txt"
PYTHONUNBUFFERED=1 python3 -m llm_budget probe --matrix --device cuda --out "$out/cuda-matrix-$gpu.json" --json | tee -a "$out/summary.txt"
PYTHONUNBUFFERED=1 python3 -m llm_budget probe --device cuda --preset llama3-8b --layers 2 --mode both --batch 1 --seq 2048 \
    --context 8192 --out "$out/cuda-llama3-8b-$gpu.json" | tee -a "$out/summary.txt"
n=$(python3 -c "import torch; print(torch.cuda.device_count())")
if [ "$n" -ge 2 ]; then
  python3 -m torch.distributed.run --standalone --nproc-per-node "$n" -m llm_budget probe --fsdp --preset gpt2-124m \
      --batch 4 --seq 1024 | tee -a "$out/summary.txt"
fi
echo "results in $out"
