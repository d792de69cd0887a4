"""Speed and memory of the sam2 engine on real beetle specimens (a script, not a test).

Prints, in one run (so the ratios share the machine's state), for 1, 5 and 9 structures
(elytra of beetles-5part, its 5 parts, the 9 parts of beetles-9part):

* ``encoder``: the floor, the median seconds of one image-encoder pass (``forward_image``)
  inside our propagation;
* ``ours``: seconds per target of the engine's propagation (template features warm, target
  features cold) and of the QC round trip, and their sum against the floor;
* ``stock``: sam2's own ``SAM2VideoPredictor`` doing the same work (one video of the chunk,
  a fresh state for each QC round trip; :mod:`sam2_stock`), and ours/stock;
* ``sst``: the SST procedure (one 2-frame video per target, no QC), and our propagation / SST;
* ``structures``: ours with 9 parts against 1 part;
* ``profile`` (``--profile``): where ``ours`` spends a target's seconds (wall time inside
  sam2's image encoder, memory attention, mask decoder, memory encoder, prompt encoder;
  ``other`` = sam2's glue, upsampling and our own Python);
* ``memory`` (``--rss-frames 20 200``): peak resident and GPU memory of a whole species run
  (propagation + QC, chunks of ``--chunk-size`` targets) for each number of frames, in fresh
  processes.

No checkpoint can be downloaded here, so the model has random weights: compute does not
depend on the weights.  On a GPU (``--device cuda``) the engine and the stock predictor run
under bfloat16 autocast (``--dtype auto``), as sam2's README runs it; ``benchmarks/gpu_check.sh``
is the whole GPU check.  Data: beetle images from NEON "Beetles as Sentinel Taxa" (East et al.
2026, doi 10.57967/hf/8716, CC BY 4.0) with BeetleFlow part masks.

    .venv/bin/python benchmarks/sam2_speed.py --image-size 512 --targets 6 --structures 5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # sam2's propagate_in_video prints a bar per video
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from traitrack.engines import make_engine  # noqa: E402
from traitrack.engines.base import Frame  # noqa: E402
from traitrack.letterbox import (  # noqa: E402
    fit_letterbox,
    letterbox_image,
    normalise_image,
)
from traitrack.structures import Structure, StructureTable  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sam2_stock  # noqa: E402

PARTS = {
    "beetles-5part": {
        "head": (200, 0, 0),
        "pronotum": (0, 200, 0),
        "elytra": (0, 0, 200),
        "legs": (200, 200, 0),
        "antennae": (200, 0, 200),
    },
    "beetles-9part": {
        "head": (100, 0, 0),
        "eyes": (0, 100, 0),
        "mouthparts": (0, 0, 100),
        "pronotum": (100, 100, 0),
        "elytra": (100, 0, 100),
        "tail": (0, 100, 100),
        "legs": (200, 0, 0),
        "antennae": (0, 200, 0),
        "pin": (0, 0, 200),
    },
}


def structures_of(dataset: str, names: list[str] | None = None) -> StructureTable:
    parts = PARTS[dataset]
    names = names or list(parts)
    return StructureTable(
        tuple(Structure(n, i + 1, parts[n], rgb=parts[n]) for i, n in enumerate(names))
    )


def read_frame(data: Path, dataset: str, name: str, structures: StructureTable | None) -> Frame:
    image = np.asarray(Image.open(data / dataset / "images" / name).convert("RGB"))
    labels = None
    if structures is not None:
        rgb = np.asarray(Image.open(data / dataset / "masks" / name).convert("RGB"))
        labels = np.zeros(rgb.shape[:2], np.uint8)
        for s in structures:
            labels[(rgb == s.rgb).all(axis=2)] = s.label
    return Frame(name.removesuffix(".png"), image, labels)


def image_names(data: Path, dataset: str) -> list[str]:
    return sorted(p.name for p in (data / dataset / "images").glob("*.png"))


def new_engine(args) -> object:
    options = {
        "model_size": args.model_size,
        "image_size": args.image_size,
        "allow_random_weights": True,
        "device": args.device,
        "dtype": args.dtype,
        "memory_frames": args.memory_frames,
        "vos_optimized": args.vos_optimized,
    }
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_engine("sam2", options, seed=0)


def synchronize() -> None:
    """Wait for queued GPU work, so wall clocks time what ran (a no-op on the CPU)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def seconds(call) -> float:
    synchronize()
    start = time.perf_counter()
    call()
    synchronize()
    return time.perf_counter() - start


def encoder_floor(engine, frames: list[Frame]) -> float:
    """Median seconds of one forward_image pass on a letterboxed frame."""
    times = []
    for frame in frames:
        box = fit_letterbox(*frame.image.shape[:2], engine.image_size)
        tensor = normalise_image(letterbox_image(frame.image, box))
        with torch.inference_mode():
            times.append(seconds(lambda tensor=tensor: engine.model.forward_image(tensor)))
    return statistics.median(times)


class EncoderClock:
    """Times every forward_image call of a model: the encoder floor under the same load."""

    def __init__(self, model):
        self.model, self.original, self.times = model, model.forward_image, []

        def timed(*args, **kwargs):
            synchronize()
            start = time.perf_counter()
            out = self.original(*args, **kwargs)
            synchronize()
            self.times.append(time.perf_counter() - start)
            return out

        model.forward_image = timed

    def close(self) -> float:
        self.model.forward_image = self.original
        return statistics.median(self.times)


class ModuleClock:
    """Wall seconds inside sam2's sub-networks (``--profile``; they do not nest), per phase."""

    PARTS = {
        "encoder": ("forward_image",),
        "memory attention": ("memory_attention", "forward"),
        "mask decoder": ("sam_mask_decoder", "forward"),
        "memory encoder": ("memory_encoder", "forward"),
        "prompt encoder": ("sam_prompt_encoder", "forward"),
    }

    def __init__(self, model):
        self.restore, self.phase, self.totals = [], "forward", {}
        for part, path in self.PARTS.items():
            owner = model if len(path) == 1 else getattr(model, path[0])
            original = getattr(owner, path[-1])
            setattr(owner, path[-1], self._timed(part, original))
            self.restore.append((owner, path[-1], original))

    def _timed(self, part, original):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                key = (self.phase, part)
                self.totals[key] = self.totals.get(key, 0.0) + time.perf_counter() - start

        return timed

    def close(self) -> None:
        for owner, name, original in self.restore:
            if name in vars(owner):
                delattr(owner, name)  # back to the class's method
            if getattr(owner, name) != original:
                setattr(owner, name, original)

    def report(self, forward: float, qc: float, floor: float, count: int) -> None:
        print(
            f"profile   {'part':17s} {'propagation':>11s} {'QC':>7s} {'together':>8s} {'x encoder':>9s}  (s/target)"
        )
        rows = {
            part: [self.totals.get((phase, part), 0.0) / count for phase in ("forward", "qc")]
            for part in self.PARTS
        }
        rows["other"] = [
            forward - sum(r[0] for r in rows.values()),
            qc - sum(r[1] for r in rows.values()),
        ]
        rows["total"] = [forward, qc]
        for part, (f, q) in rows.items():
            print(f"profile   {part:17s} {f:11.3f} {q:7.3f} {f + q:8.3f} {(f + q) / floor:9.2f}")


def ours(engine, template: Frame, targets: list[Frame], structures, profile: bool = False):
    """Seconds per target: propagation (template features warm), then the QC round trips;
    the median encoder pass measured inside the propagation; the module clock (profile)."""
    engine.image_features(template.specimen, template.image)
    predictions = []
    modules = ModuleClock(engine.model) if profile else None
    clock = EncoderClock(engine.model)
    forward = seconds(
        lambda: predictions.extend(engine.propagate([template, *targets], structures))
    )
    in_run_floor = clock.close()
    encoded = engine.features.stats.encoded
    backward = 0.0
    if modules:
        modules.phase = "qc"
    for target, prediction in zip(targets, predictions):
        chunk = [
            Frame(target.specimen, target.image, prediction.labels),
            Frame(template.specimen, template.image),
        ]
        backward += seconds(lambda chunk=chunk: engine.propagate(chunk, structures))
    assert engine.features.stats.encoded == encoded, "the QC pass must not encode images"
    if modules:
        modules.close()
    return forward / len(targets), backward / len(targets), in_run_floor, modules


CASES = {  # structures -> (dataset, parts; None = all of them)
    1: ("beetles-5part", ["elytra"]),
    5: ("beetles-5part", None),
    9: ("beetles-9part", None),
}


def per_target(procedure, model, template: Frame, targets: list[Frame], structures, dtype):
    """Seconds per target of a stock procedure (:mod:`sam2_stock`) on the chunk."""
    return seconds(lambda: procedure(model, template, targets, structures, dtype)) / len(targets)


def speed(args) -> None:
    data = Path(args.data)
    probe = new_engine(args)
    dtype = probe.dtype
    print(
        f"# sam2.1 {args.model_size} random weights, image size {args.image_size}, "
        f"{probe.device} {str(dtype).removeprefix('torch.')}, {torch.get_num_threads()} threads, "
        f"memory_frames {args.memory_frames}, vos_optimized {args.vos_optimized}, "
        f"{args.targets} targets per case; seconds per target"
    )
    probe.close()
    together = {}
    for count in args.structures:
        dataset, parts = CASES[count]
        structures = structures_of(dataset, parts)
        names = image_names(data, dataset)
        template = read_frame(data, dataset, names[0], structures)
        targets = [read_frame(data, dataset, n, None) for n in names[1 : 1 + args.targets]]
        warm = read_frame(data, dataset, names[-1], None)  # one-off set-up costs, not timed
        engine = new_engine(args)  # cold target features: encoding is part of the work
        engine.propagate([template, warm], structures)
        sam2_stock.stock_same_work(engine.model, template, [warm], structures, dtype)
        standalone = encoder_floor(engine, [template, *targets])
        forward, qc, floor, modules = ours(engine, template, targets, structures, args.profile)
        stock = per_target(
            sam2_stock.stock_same_work, engine.model, template, targets, structures, dtype
        )
        clock = EncoderClock(engine.model)
        sst = per_target(sam2_stock.sst, engine.model, template, targets, structures, dtype)
        passes = len(clock.times) / len(targets)
        clock.close()
        together[count] = forward + qc
        print(
            f"{count} structures ({dataset}): encoder {floor:.3f} s/image inside our propagation "
            f"({standalone:.3f} standalone)\n"
            f"  ours   propagation {forward:.3f} + QC {qc:.3f} = {forward + qc:.3f} "
            f"= {(forward + qc) / floor:.2f}x encoder (GPU goal <= 1.5x)\n"
            f"  stock  SAM2VideoPredictor, same work (one video, a fresh state per QC) "
            f"{stock:.3f}: ours/stock {(forward + qc) / stock:.2f} (goal <= 0.5)\n"
            f"  sst    2-frame video per target, propagation only, {passes:.0f} encoder passes "
            f"per target: {sst:.3f}; ours propagation/sst {forward / sst:.2f}"
        )
        if modules:
            modules.report(forward, qc, floor, len(targets))
        engine.close()
    if {1, 9} <= set(together):
        print(
            f"structures: 9 parts {together[9]:.3f} s/target against 1 part {together[1]:.3f}: "
            f"ratio {together[9] / together[1]:.2f} (GPU goal <= 1.3, propagation + QC)"
        )


def rss_child(args) -> None:
    """One species of ``frames`` frames: chunks of targets after the template, QC per target."""
    data = Path(args.data)
    structures = structures_of("beetles-5part", args.rss_structures)
    names = image_names(data, "beetles-5part")[: args.rss_child]
    template = read_frame(data, "beetles-5part", names[0], structures)
    engine = new_engine(args)
    start = time.perf_counter()
    for first in range(1, len(names), args.chunk_size):
        targets = [
            read_frame(data, "beetles-5part", n, None)
            for n in names[first : first + args.chunk_size]
        ]
        for target, prediction in zip(targets, engine.propagate([template, *targets], structures)):
            engine.propagate(
                [Frame(target.specimen, target.image, prediction.labels), template], structures
            )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0
    print(
        f"{len(names)} {peak_mb:.1f} {gpu_mb:.1f} {time.perf_counter() - start:.1f} "
        f"{engine.features.stats}"
    )


def rss(args) -> None:
    peaks = {}
    for frames in args.rss_frames:
        command = [sys.executable, __file__, "--rss-child", str(frames), *forwarded(args)]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
        peaks[frames] = (float(out[1]), float(out[2]))
        print(
            f"memory    {frames} frames: peak RSS {out[1]} MB, peak GPU {out[2]} MB, "
            f"in {out[3]} s ({' '.join(out[4:])})"
        )
    for kind, index in (("RSS", 0), ("GPU", 1)):
        low, high = peaks[min(peaks)][index], peaks[max(peaks)][index]
        if low:
            print(
                f"memory    {kind} {min(peaks)} -> {max(peaks)} frames: "
                f"{100 * (high - low) / low:+.1f}% (goal <= +10%)"
            )


def forwarded(args) -> list[str]:
    return [
        "--data",
        args.data,
        "--image-size",
        str(args.image_size),
        "--model-size",
        args.model_size,
        "--memory-frames",
        str(args.memory_frames),
        "--device",
        args.device,
        "--dtype",
        args.dtype,
        *(["--vos-optimized"] if args.vos_optimized else []),
        "--chunk-size",
        str(args.chunk_size),
        "--threads",
        str(args.threads),
        "--rss-structures",
        *args.rss_structures,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--image-size", type=int, default=512)
    parser.add_argument("--model-size", default="tiny")
    parser.add_argument("--targets", type=int, default=6)
    parser.add_argument("--memory-frames", type=int, default=6)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument(
        "--dtype", default="auto", help="auto (bfloat16 on CUDA), float32, bfloat16"
    )
    parser.add_argument("--vos-optimized", action="store_true", help="sam2's compiled predictor")
    parser.add_argument(
        "--structures", type=int, nargs="+", default=[1, 5, 9], choices=sorted(CASES)
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=10)
    parser.add_argument("--rss-frames", type=int, nargs="*", default=[])
    parser.add_argument("--rss-structures", nargs="+", default=["elytra"])
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print where a target's seconds go")
    parser.add_argument("--rss-child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not (Path(args.data) / "beetles-5part").is_dir():
        sys.exit(f"no beetle data under {args.data}; pass --data ../shared/data")
    if args.rss_child:
        rss_child(args)
        return
    if not args.skip_speed:
        speed(args)
    if args.rss_frames:
        rss(args)


if __name__ == "__main__":
    main()
