"""SAM 2's two per-frame steps, written once: condition a frame on masks, predict a frame.

The inference tracker (:class:`~traitrack.engines.sam2.tracker.Sam2Tracker`, under
``torch.inference_mode``) and the palindrome cycle of fine-tuning
(:mod:`traitrack.finetune.cycle`, with gradients) both call these, so a change of sam2's
``track_step`` is followed in one place (``tests/test_sam2_equivalence.py`` checks the
tracker against sam2's own video predictor). Each takes the frame's features already
flattened to (HW, N, C) for N objects, as ``track_step`` wants them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class StepFrame:
    """One image's features in the layout ``track_step`` wants, for N objects.

    Attributes
    ----------
    feats : list of torch.Tensor
        The projected feature levels, each (HW, N, C).
    pos : list of torch.Tensor
        Their positional encodings, each (HW, N, C).
    sizes : list of tuple of int
        The (h, w) of every level.
    """

    feats: Sequence[torch.Tensor]
    pos: Sequence[torch.Tensor]
    sizes: Sequence[tuple[int, int]]

    @property
    def batch(self) -> int:
        """The number of objects N the features are expanded to."""
        return self.feats[-1].shape[1]


def empty_memory() -> dict[str, dict[int, dict]]:
    """A fresh memory bank (SAM 2's ``output_dict``): nothing of any earlier frame."""
    return {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}


def condition_step(
    model,
    frame: StepFrame,
    masks: torch.Tensor,
    memory: dict,
    *,
    index: int,
    num_frames: int,
    soft: bool = False,
) -> tuple[dict, torch.Tensor, list[torch.Tensor]]:
    """Make ``frame`` a conditioning frame from (N, 1, S, S) ``masks``.

    As sam2's ``propagate_in_video_preflight``: the mask is taken as the frame's output and
    its memory encoded from the low-resolution mask brought back to the model's size.
    ``soft`` encodes the memory from probabilities (sam2's training path,
    ``is_mask_from_pts=False``) instead of the binarised mask, so a soft prompt keeps its
    gradient. The caller stores the memory (``memory["cond_frame_outputs"][index]``) in the
    form it keeps.

    Returns
    -------
    out : dict
        ``track_step``'s output (``pred_masks_high_res``, ``object_score_logits``,
        ``obj_ptr``).
    maskmem, maskmem_pos : torch.Tensor, list of torch.Tensor
        The frame's encoded memory and its positional encodings.
    """
    out = model.track_step(
        frame_idx=index,
        is_init_cond_frame=True,
        current_vision_feats=frame.feats,
        current_vision_pos_embeds=frame.pos,
        feat_sizes=frame.sizes,
        point_inputs=None,
        mask_inputs=masks,
        output_dict=memory,
        num_frames=num_frames,
        run_mem_encoder=False,
    )
    high_res = F.interpolate(
        out["pred_masks"].float(),
        size=(model.image_size, model.image_size),
        mode="bilinear",
        align_corners=False,
    )
    maskmem, maskmem_pos = model._encode_new_memory(
        current_vision_feats=frame.feats,
        feat_sizes=frame.sizes,
        pred_masks_high_res=high_res,
        object_score_logits=out["object_score_logits"],
        is_mask_from_pts=not soft,
    )
    return out, maskmem, maskmem_pos


def predict_step(
    model, frame: StepFrame, memory: dict, *, index: int, num_frames: int, remember: bool = False
) -> dict:
    """Predict ``frame`` from the memory bank; ``remember`` also encodes its own memory
    (``maskmem_features``, ``maskmem_pos_enc`` in the output) for the frames after it."""
    return model.track_step(
        frame_idx=index,
        is_init_cond_frame=False,
        current_vision_feats=frame.feats,
        current_vision_pos_embeds=frame.pos,
        feat_sizes=frame.sizes,
        point_inputs=None,
        mask_inputs=None,
        output_dict=memory,
        num_frames=num_frames,
        run_mem_encoder=remember,
    )
