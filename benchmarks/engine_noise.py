"""Where the registration engine's labels part when its target changes a little, step by step.

For ``--targets`` real beetles (``../shared/data/beetles-5part``, NEON carabid images, CC BY
4.0; BeetleFlow masks; split and templates as ``benchmarks/large_masks.py``), the engine runs
twice: on the native target, and on the target changed by ``--change``: ``jpeg`` (saved once
as JPEG quality 95 at its own size) or ``upscale`` (templates and target enlarged bicubic to
``--megapixels``, PNG, no compression; templates' masks with them). Printed per target: the
quarter turn chosen (True: none), each template's registration Dice and view (0 plain, 1
mirrored) after the first and the second pass, the fusion weights, the foreground's IoU at the
working size (first pass, refined), the mean part IoU of the labels after each step (the
fused arg-max, edges snapped, thin and small parts, body fill: the labels) and each part's
IoU and the whole specimen's at the end. An enlarged run's maps are compared at the native
size (reduced by majority, :func:`traitrack.working_size.resize_labels`).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/engine_noise.py [--targets 8]
        [--change jpeg|upscale] [--megapixels 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from large_masks import DATA, as_jpeg, beetle_targets  # noqa: E402

from traitrack.engines.base import Frame  # noqa: E402
from traitrack.engines.registration.after_fusion import steps_after_fusion  # noqa: E402
from traitrack.engines.registration.align import warp_maps  # noqa: E402
from traitrack.engines.registration.engine import (  # noqa: E402
    RegistrationEngine,
)
from traitrack.engines.registration.fusion import (  # noqa: E402
    consensus_weights,
    fuse_probabilities,
    template_weights,
)
from traitrack.engines.registration.orient import allowed_turns, choose_turn  # noqa: E402
from traitrack.engines.registration.state import Scene, as_rgb  # noqa: E402
from traitrack.io import read_image, read_mask  # noqa: E402
from traitrack.metrics import class_iou, mean_iou  # noqa: E402
from traitrack.working_size import resize_labels  # noqa: E402

STEPS = ("transferred", "snapped", "unfilled", "labels")


def enlarged(image: np.ndarray, megapixels: float) -> np.ndarray:
    picture = Image.fromarray(image)
    scale = (megapixels * 1e6 / (picture.width * picture.height)) ** 0.5
    size = (round(picture.width * scale), round(picture.height * scale))
    return np.asarray(picture.resize(size, Image.BICUBIC))


def trace(engine: RegistrationEngine, image: np.ndarray, prepared, structures) -> dict:
    """The engine's prediction of one target (its ``_predict_as_is``), every step kept."""
    options = engine.options
    turn = choose_turn(
        image,
        [t.descriptor for t in prepared],
        allowed_turns(options.orient_rotations, options.orient_mirror),
        options.orient_margin,
    )
    first = engine._silhouette(image)
    aligned = [engine._align(first, t) for t in prepared]

    def views(aligned):
        return [
            (round(a.alignment.dice, 3), [v[0] for v in t.views].index(a.silhouette))
            for a, t in zip(aligned, prepared)
        ]

    first_views = views(aligned)
    refined, aligned = engine._refine(first, aligned, None)
    warped = [warp_maps(a.maps, a.silhouette, refined, a.alignment.transform) for a in aligned]
    weights = consensus_weights(
        warped,
        template_weights([a.alignment.dice for a in aligned], options.weight_power, None),
        structures,
        power=options.agreement_power,
        drop_below=options.drop_below,
    )
    scene = Scene.of(as_rgb(image), refined, structures, options)
    steps = steps_after_fusion(
        scene,
        fuse_probabilities(warped, weights),
        prepared,
        aligned,
        weights,
        options,
        engine.seed,
    )
    return {
        "turn": turn.is_identity,
        "first": first_views,
        "second": views(aligned),
        "weights": np.round(weights, 3).tolist(),
        "foreground": (first.mask, refined.mask),
        "steps": steps,
    }


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def same_size(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return resize_labels(mask.astype(np.uint8), shape) > 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=8)
    parser.add_argument("--templates", type=int, default=2)
    parser.add_argument("--change", choices=["jpeg", "upscale"], default="jpeg")
    parser.add_argument("--megapixels", type=float, default=1)
    args = parser.parse_args()
    structures, engine, targets, chosen = beetle_targets(args.targets, args.templates)
    print(
        f"change: {args.change}"
        + (f" to {args.megapixels:g} MP" if args.change == "upscale" else "")
    )
    for target, templates in zip(targets, chosen):
        frames = [
            Frame(t.stem, read_image(t), read_mask(DATA / "masks" / t.name, structures))
            for t in templates
        ]
        image = read_image(target)
        native = trace(
            engine, image, [engine._prepare_template(f, structures) for f in frames], structures
        )
        if args.change == "jpeg":
            changed_frames, changed_image = frames, as_jpeg(image)
        else:
            changed_frames = []
            for frame in frames:
                big = enlarged(frame.image, args.megapixels)
                changed_frames.append(
                    Frame(frame.specimen, big, resize_labels(frame.labels, big.shape[:2]))
                )
            changed_image = enlarged(image, args.megapixels)
        changed = trace(
            engine,
            changed_image,
            [engine._prepare_template(f, structures) for f in changed_frames],
            structures,
        )
        shape = image.shape[:2]
        foreground = [
            iou(a, same_size(b, a.shape))
            for a, b in zip(native["foreground"], changed["foreground"])
        ]
        steps = {
            step: mean_iou(
                class_iou(
                    getattr(native["steps"], step),
                    resize_labels(getattr(changed["steps"], step), shape),
                    structures.labels,
                )
            )
            for step in STEPS
        }
        final = resize_labels(changed["steps"].labels, shape)
        parts = class_iou(native["steps"].labels, final, structures.labels)
        print(
            f"{target.stem}  turn {native['turn']}/{changed['turn']}  "
            f"first {native['first']}/{changed['first']}  "
            f"second {native['second']}/{changed['second']}  "
            f"weights {native['weights']}/{changed['weights']}\n"
            f"      foreground IoU {foreground[0]:.3f} refined {foreground[1]:.3f}  steps "
            + " ".join(f"{k} {v:.3f}" for k, v in steps.items())
            + "  parts "
            + " ".join(f"{s.name} {parts[s.label]:.3f}" for s in structures)
            + f"  whole {iou(native['steps'].labels > 0, final > 0):.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
