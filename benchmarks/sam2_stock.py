"""SAM 2's own video predictor doing traitrack's work: the baselines of ``sam2_speed.py``.

Two procedures, both through the stock ``SAM2VideoPredictor`` API (``init_state``,
``add_new_mask``, ``propagate_in_video``), frames given in memory instead of a JPEG folder and
resized to the model's square as sam2's own ``load_video_frames`` does:

* :func:`stock_same_work`: what our engine does for a chunk, done by the stock predictor: one
  video [template, targets...], every structure an ``add_new_mask`` on the template, then for
  each target the QC round trip as a fresh state [target with its predicted masks, template];
* :func:`sst`: the SST procedure, one 2-frame video [template, target] per target, without QC.

Each state encodes its own frames (sam2 caches only the most recent frame's features), which
is the cost our engine's feature cache removes.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from PIL import Image

from traitrack.engines.base import Frame
from traitrack.letterbox import IMAGE_MEAN, IMAGE_STD


def square(image: np.ndarray, size: int) -> torch.Tensor:
    """What sam2's ``load_video_frames`` makes of a frame: resized to size x size, normalised."""
    scaled = np.asarray(Image.fromarray(image).resize((size, size))).astype(np.float32) / 255.0
    return torch.from_numpy(((scaled - IMAGE_MEAN) / IMAGE_STD).transpose(2, 0, 1).copy())


@contextlib.contextmanager
def frames_in_memory():
    """Let ``init_state`` take ``{"images", "height", "width"}`` instead of a folder."""
    import sam2.sam2_video_predictor as predictor_module

    original = predictor_module.load_video_frames

    def preloaded(video_path, compute_device=None, offload_video_to_cpu=False, **_):
        images = video_path["images"]
        if not offload_video_to_cpu and compute_device is not None:
            images = images.to(compute_device)
        return images, video_path["height"], video_path["width"]

    predictor_module.load_video_frames = preloaded
    try:
        yield
    finally:
        predictor_module.load_video_frames = original


def autocast(model, dtype: torch.dtype):
    """The autocast sam2's README wraps its predictor in (bfloat16 on CUDA), else nothing."""
    device = next(model.parameters()).device
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def video(frames: list[np.ndarray], size: int, height: int, width: int) -> dict:
    return {
        "images": torch.stack([square(f, size) for f in frames]),
        "height": height,
        "width": width,
    }


def track(model, clip: dict, masks: list[np.ndarray], labels: list[int]) -> dict[int, np.ndarray]:
    """One stock state: ``masks`` added on frame 0, propagated; binary masks of later frames."""
    state = model.init_state(video_path=clip)
    for label, mask in zip(labels, masks):
        model.add_new_mask(state, frame_idx=0, obj_id=label, mask=mask)
    out = {}
    for index, _, video_masks in model.propagate_in_video(state):
        if index:
            out[index] = (video_masks[:, 0] > 0).cpu().numpy()
    return out


def stock_same_work(model, template: Frame, targets: list[Frame], structures, dtype) -> None:
    """The stock predictor propagates a chunk, then runs each target's QC round trip."""
    size = model.image_size
    labels = [s.label for s in structures]
    height, width = template.image.shape[:2]
    with frames_in_memory(), torch.inference_mode(), autocast(model, dtype):
        forward = track(
            model,
            video([template.image, *(t.image for t in targets)], size, height, width),
            [template.labels == label for label in labels],
            labels,
        )
        for index, target in enumerate(targets, start=1):
            track(
                model,
                video([target.image, template.image], size, height, width),
                list(forward[index]),
                labels,
            )


def sst(model, template: Frame, targets: list[Frame], structures, dtype) -> None:
    """SST: a 2-frame video [template, target] per target (the template encoded every time)."""
    size = model.image_size
    labels = [s.label for s in structures]
    height, width = template.image.shape[:2]
    with frames_in_memory(), torch.inference_mode(), autocast(model, dtype):
        for target in targets:
            track(
                model,
                video([template.image, target.image], size, height, width),
                [template.labels == label for label in labels],
                labels,
            )
