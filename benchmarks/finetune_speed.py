"""Speed and memory of palindrome fine-tuning steps on the CPU (a script, not a test).

For each image size and mode (``frozen``: everything but the image encoder learns;
``lora``: peft adapters only), a fresh process builds the tiny SAM 2.1 with random weights
(compute and memory do not depend on the weights), takes one template with its 5 structures
and two unlabelled specimens of beetles-5part, runs one warm-up step (which also encodes the
three images once), then times ``--steps`` training steps (forward cycle, backward, AdamW).

Reported per configuration: median seconds per step; peak RSS after building the model and
encoding the images (``rss_ready``) and after training (``rss_peak``); their difference is
what the training step itself adds (activations, gradients, optimiser moments).  The memory
of a 1024 px step is then extrapolated from 256 and 512 with the exponent the two points
give (``extra ~ size^p``), and for comparison with p = 2 (activations proportional to pixels).

Data: beetle images from NEON "Beetles as Sentinel Taxa" (East et al. 2026, doi
10.57967/hf/8716, CC BY 4.0) with BeetleFlow part masks; without ../shared/data, synthetic
images are used instead.

    .venv/bin/python benchmarks/finetune_speed.py --sizes 256 512 --modes frozen lora --steps 3 --threads 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
DATA = REPO / ".." / "shared" / "data" / "beetles-5part"
PARTS = {
    "head": (200, 0, 0),
    "pronotum": (0, 200, 0),
    "elytra": (0, 0, 200),
    "legs": (200, 200, 0),
    "antennae": (200, 0, 200),
}


def sample_sheet(folder: Path) -> Path:
    """One template and two targets: real beetles if present, else synthetic ellipses."""
    import numpy as np
    from PIL import Image

    rows = ["specimen\tspecies\timage\tmask"]
    if DATA.is_dir():
        names = sorted(p.stem for p in (DATA / "images").glob("*.png"))[:3]
        for index, name in enumerate(names):
            mask = f"{DATA / 'masks' / name}.png" if index == 0 else ""
            rows.append(f"{name}\tb\t{DATA / 'images' / name}.png\t{mask}")
    else:
        rng = np.random.default_rng(0)
        for index in range(3):
            yy, xx = np.mgrid[:400, :300]
            labels = np.zeros((400, 300), np.uint8)
            for label, (cy, ry) in enumerate(
                [(60, 30), (120, 35), (250, 110), (330, 20), (30, 15)], start=1
            ):
                labels[((yy - cy) / ry) ** 2 + ((xx - 150) / (60 + 10 * label)) ** 2 < 1] = label
            image = rng.integers(0, 256, (400, 300, 3), dtype=np.uint8)
            colours = np.array([(0, 0, 0), *PARTS.values()], np.uint8)
            Image.fromarray(image).save(folder / f"s{index}.png")
            Image.fromarray(colours[labels]).save(folder / f"s{index}_mask.png")
            mask = str(folder / f"s{index}_mask.png") if index == 0 else ""
            rows.append(f"s{index}\tb\t{folder / f's{index}.png'}\t{mask}")
    sheet = folder / "samples.tsv"
    sheet.write_text("\n".join(rows) + "\n")
    return sheet


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(size: int, mode: str, steps: int, threads: int, args) -> dict:
    """One configuration in this process (called in a fresh child by :func:`main`)."""
    import time

    import torch

    from traitrack.engines.sam2.model import ModelSpec, build_model
    from traitrack.finetune.data import load_templates, training_set
    from traitrack.finetune.train import FeatureSource, FinetuneOptions, cycle_step
    from traitrack.finetune.weights import LoraOptions, make_trainable
    from traitrack.samples import read_sample_sheet
    from traitrack.structures import StructureTable

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as folder:
        data = training_set(read_sample_sheet(sample_sheet(Path(folder))), "b")
        structures = StructureTable.from_config(
            {"structures": [{"name": n, "rgb": list(c)} for n, c in PARTS.items()]}
        )
        model, device, dtype = build_model(
            ModelSpec(args.model_size, None, size, args.device, args.dtype, True)
        )
        lora = LoraOptions(enabled=mode == "lora")
        named = make_trainable(model, lora)
        options = FinetuneOptions(lr=1e-5, lora=lora)
        optimizer = torch.optim.AdamW(
            [p for _, p in named], lr=options.lr, weight_decay=options.weight_decay
        )
        templates = load_templates(data.templates, structures, size)
        features = FeatureSource(model, device, dtype)
        with torch.no_grad():
            for specimen in data.members:
                features.levels(specimen)
        rss_ready = max_rss_mb()
        timings = []
        for step in range(steps + 1):  # step 0 is the warm-up
            if device.type == "cuda":
                torch.cuda.synchronize()
            began = time.perf_counter()
            losses, _ = cycle_step(
                model, features, templates[0], data.targets[step % len(data.targets)]
            )
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            torch.nn.utils.clip_grad_norm_([p for _, p in named], options.grad_clip)
            optimizer.step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if step:
                timings.append(time.perf_counter() - began)
        features.close()
    gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else 0.0
    return {
        "size": size,
        "mode": mode,
        "model": args.model_size,
        "device": f"{device.type} {str(dtype).removeprefix('torch.')}",
        "gpu_peak_mb": gpu_mb,
        "structures": len(structures),
        "threads": threads,
        "trainable_params": sum(p.numel() for _, p in named),
        "s_per_step": statistics.median(timings),
        "s_per_step_min": min(timings),
        "rss_ready_mb": rss_ready,
        "rss_peak_mb": max_rss_mb(),
    }


def extrapolate(rows: list[dict], target: int = 1024) -> list[dict]:
    """Per mode, the 1024 px peak RSS from the 256 and 512 px runs (see module docstring)."""
    estimates = []
    for mode in sorted({r["mode"] for r in rows}):
        by_size = {r["size"]: r for r in rows if r["mode"] == mode}
        if not {256, 512} <= set(by_size):
            continue
        small, large = by_size[256], by_size[512]
        extra_small = small["rss_peak_mb"] - small["rss_ready_mb"]
        extra_large = large["rss_peak_mb"] - large["rss_ready_mb"]
        ratio = target / 512
        exponent = math.log(max(extra_large, 1e-6) / max(extra_small, 1e-6)) / math.log(2)
        ready_exponent = math.log(large["rss_ready_mb"] / small["rss_ready_mb"]) / math.log(2)
        estimates.append(
            {
                "mode": mode,
                "step_extra_256_mb": extra_small,
                "step_extra_512_mb": extra_large,
                "exponent": exponent,
                "rss_ready_1024_mb": large["rss_ready_mb"] * ratio**ready_exponent,
                "step_extra_1024_mb": extra_large * ratio**exponent,
                "step_extra_1024_mb_if_p2": extra_large * ratio**2,
                "rss_peak_1024_mb": large["rss_ready_mb"] * ratio**ready_exponent
                + extra_large * ratio**exponent,
                "s_per_step_1024_if_p2": large["s_per_step"] * ratio**2,
                "time_exponent": math.log(large["s_per_step"] / small["s_per_step"]) / math.log(2),
                "s_per_step_1024": large["s_per_step"]
                * ratio ** (math.log(large["s_per_step"] / small["s_per_step"]) / math.log(2)),
            }
        )
    return estimates


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument(
        "--modes", nargs="+", default=["frozen", "lora"], choices=["frozen", "lora"]
    )
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model-size", default="tiny")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument(
        "--dtype", default="auto", help="auto (bfloat16 on CUDA), float32, bfloat16"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        size, mode = args.child.split(":")
        print(json.dumps(measure(int(size), mode, args.steps, args.threads, args)))
        return

    print(f"load average before: {os.getloadavg()}", flush=True)
    rows = []
    for size in args.sizes:
        for mode in args.modes:
            result = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    f"{size}:{mode}",
                    "--steps",
                    str(args.steps),
                    "--threads",
                    str(args.threads),
                    "--model-size",
                    args.model_size,
                    "--device",
                    args.device,
                    "--dtype",
                    args.dtype,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
            row = rows[-1]
            print(
                f"size {size:5d} {row['model']} {row['device']} {mode:7s} "
                f"structures {row['structures']} threads {row['threads']}: "
                f"{row['s_per_step']:.2f} s/step (min {row['s_per_step_min']:.2f}), "
                f"RSS ready {row['rss_ready_mb']:.0f} MB, peak {row['rss_peak_mb']:.0f} MB, "
                f"peak GPU {row['gpu_peak_mb']:.0f} MB, "
                f"trainable {row['trainable_params'] / 1e6:.2f} M params, load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    for estimate in extrapolate(rows):
        print(
            f"1024 estimate {estimate['mode']:7s}: step adds {estimate['step_extra_256_mb']:.0f} MB at 256, "
            f"{estimate['step_extra_512_mb']:.0f} MB at 512 (exponent {estimate['exponent']:.2f}) -> "
            f"{estimate['step_extra_1024_mb']:.0f} MB at 1024 ({estimate['step_extra_1024_mb_if_p2']:.0f} MB if ~pixels); "
            f"peak RSS ~{estimate['rss_peak_1024_mb']:.0f} MB; ~{estimate['s_per_step_1024']:.0f} s/step "
            f"(time exponent {estimate['time_exponent']:.2f}; {estimate['s_per_step_1024_if_p2']:.0f} s if ~pixels)"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
