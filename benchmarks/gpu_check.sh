#!/usr/bin/env bash
# The GPU check of the sam2 engine: one command, no network, random weights (no checkpoint can
# be downloaded; compute does not depend on the weights). In one run it prints, on real specimens
# of ../shared/data with 1, 5 and 9 structures:
#   - seconds per target of propagation + QC against one image-encoder pass per image;
#   - ours against sam2's own SAM2VideoPredictor doing the same work, and against SST;
#   - 9 structures against 1;
#   - peak GPU (and resident) memory of a species run of 20 and of 200 frames;
#   - one palindrome fine-tuning step (frozen encoder and LoRA): seconds, peak memory;
#   - the self-training student's default training (its seconds and peak GPU memory);
#   - with --vos-optimized (sam2's torch.compile'd predictor) for 5 structures, if it compiles
#     within 240 s.
# Usage (from the repository root, after `make test` has built .venv):
#   bash benchmarks/gpu_check.sh          # a GPU node: SAM 2.1 large at 1024, bfloat16 autocast
#   bash benchmarks/gpu_check.sh --cpu    # anywhere: tiny at 256 on the CPU, to know it works
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
DATA=${DATA:-../shared/data}
if [[ "${1:-}" == "--cpu" ]]; then
    model=tiny size=256 device=cpu threads=$(nproc)
else
    model=large size=1024 device=cuda threads=$(nproc)
fi
export TQDM_DISABLE=1
start=$(date +%s)
"$PYTHON" - <<PY
import torch
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
print(f"# gpu_check: torch {torch.__version__}, {gpu}; sam2.1 $model at $size on $device")
PY
if [[ "$device" == cuda ]] && ! "$PYTHON" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "gpu_check: no CUDA device visible; run with --cpu for the CPU check" >&2
    exit 2
fi
common=(--data "$DATA" --model-size "$model" --image-size "$size" --device "$device"
    --threads "$threads")
"$PYTHON" benchmarks/sam2_speed.py "${common[@]}" --targets 6 --structures 1 5 9 \
    --rss-frames 20 200 --rss-structures head pronotum elytra legs antennae
"$PYTHON" benchmarks/finetune_speed.py --sizes "$size" --modes frozen lora --steps 3 \
    --model-size "$model" --device "$device" --threads "$threads"
if [[ "$device" == cuda ]]; then
    echo "# vos_optimized (torch.compile, max-autotune): 5 structures"
    timeout 240 "$PYTHON" benchmarks/sam2_speed.py "${common[@]}" --targets 6 --structures 5 \
        --vos-optimized || echo "vos_optimized: did not finish within 240 s (exit $?)"
else
    echo "# vos_optimized skipped on the CPU (max-autotune compilation is a GPU option)"
fi
if [[ "$device" == cuda ]]; then
    echo "# the student (default: EfficientNet-Lite0 U-Net), its default training, 300 specimens"
    "$PYTHON" benchmarks/student_timing.py --threads "$threads"
else
    "$PYTHON" benchmarks/student_timing.py --threads "$threads" --specimens 40 --epochs 1
fi
echo "# gpu_check: finished in $(($(date +%s) - start)) s"
