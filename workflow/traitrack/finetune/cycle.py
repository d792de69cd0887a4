"""The palindrome cycle x0 -> x1 -> x0' through SAM 2's own steps, differentiable end to end.

One cycle, for a template x0 with its N structure masks and an unlabelled specimen x1:

1. **forward half**: x0 is the conditioning frame (all N structures as one batch of objects,
   exactly as the inference tracker conditions a template); SAM 2 predicts x1 from that memory;
2. **memory reset**: the backward half starts from a fresh, empty memory bank, so nothing of x0
   (its memory, its object pointers) can reach the prediction of x0';
3. **backward half**: x1 becomes the conditioning frame with its own predicted masks as a
   *soft* prompt (sigmoid probabilities, no threshold), and SAM 2 predicts x0' from it.

The loss (:func:`cycle_loss`) compares x0' with x0's true masks; because the prompt is soft,
its gradient flows through the backward half into the forward prediction.

Every step is the model's own (``track_step``, ``_encode_new_memory``), through the same
functions as :class:`~traitrack.engines.sam2.tracker.Sam2Tracker`
(:mod:`traitrack.engines.sam2.step`), with the model in eval mode (no
dropout, SAM 2's inference-time memory settings).  The one difference is where the gradient must
pass: the soft prompt's memory is encoded from the sigmoid of its logits (SAM 2's training-time
path, ``is_mask_from_pts=False``) instead of the binarised mask inference uses, which would cut
the gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from traitrack.engines.sam2.step import (
    StepFrame,
    condition_step,
    empty_memory,
    predict_step,
)

# A structure SAM 2 calls absent gets mask logits of -1024 (its NO_OBJ_SCORE) with no gradient;
# flooring the logits bounds that constant in the loss table.  Real logits this low carry no
# gradient anyway (sigmoid(-50) ~ 2e-22); the object-score term is what teaches presence.
LOGIT_FLOOR = -50.0
CYCLE_FRAMES = 2  # each half is a two-frame chunk [conditioning, prediction], as the QC round trip


@dataclass
class HalfOutput:
    """Model-resolution prediction of one frame.

    Attributes
    ----------
    logits : torch.Tensor
        (N, S, S) high-resolution mask logits.
    object_scores : torch.Tensor
        (N,) object score logits.
    """

    logits: torch.Tensor
    object_scores: torch.Tensor


@dataclass
class CycleOutput:
    """Everything one cycle produced (the forward prediction keeps its graph for the tests).

    Attributes
    ----------
    forward : HalfOutput
        x1 predicted from x0.
    soft_prompt : torch.Tensor
        (N, S, S) sigmoid of the forward logits, x1's prompt in the backward half.
    backward : HalfOutput
        x0' predicted from x1.
    """

    forward: HalfOutput
    soft_prompt: torch.Tensor
    backward: HalfOutput


def encode_levels(
    model, image: torch.Tensor
) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """The image encoder's raw feature levels and positional encodings of a (1, 3, S, S) image.

    Raw means before the mask decoder's ``conv_s0``/``conv_s1`` projections, which
    ``forward_image`` applies but which belong to the (trainable) mask decoder: they are applied
    in :func:`frame_inputs`, inside the graph.

    Parameters
    ----------
    model : SAM2Base
        The network.
    image : torch.Tensor
        (1, 3, S, S) normalised image.

    Returns
    -------
    levels : tuple of torch.Tensor
        The raw ``backbone_fpn`` levels.
    pos : tuple of torch.Tensor
        Their positional encodings.
    """
    out = model.image_encoder(image)
    return tuple(out["backbone_fpn"]), tuple(out["vision_pos_enc"])


def frame_inputs(model, levels, pos, batch: int) -> StepFrame:
    """Project and flatten raw levels to (HW, N, C) features, as ``forward_image`` + tracker do.

    Parameters
    ----------
    model : SAM2Base
        The network (its mask decoder's ``conv_s0``/``conv_s1`` project levels 0 and 1).
    levels, pos : sequence of torch.Tensor
        :func:`encode_levels`' result.
    batch : int
        The number of objects N.

    Returns
    -------
    StepFrame
        The frame, ready for ``track_step``.
    """
    levels = list(levels)
    if model.use_high_res_features_in_sam:
        levels[0] = model.sam_mask_decoder.conv_s0(levels[0])
        levels[1] = model.sam_mask_decoder.conv_s1(levels[1])
    count = model.num_feature_levels
    levels, pos = levels[-count:], list(pos)[-count:]
    sizes = [(x.shape[-2], x.shape[-1]) for x in pos]
    feats = [x.expand(batch, -1, -1, -1).flatten(2).permute(2, 0, 1) for x in levels]
    pos = [x[:1].expand(batch, -1, -1, -1).flatten(2).permute(2, 0, 1) for x in pos]
    return StepFrame(feats, pos, sizes)


def condition(model, frame: StepFrame, masks: torch.Tensor, memory: dict, soft: bool) -> None:
    """Make ``frame`` conditioning frame 0 of ``memory`` with (N, 1, S, S) ``masks``.

    As the tracker's ``_condition`` (mask taken as output, memory encoded from the low-res mask
    brought back to full size); ``soft`` encodes the memory from probabilities instead of the
    binarised mask, so a soft prompt stays differentiable.

    Parameters
    ----------
    model : SAM2Base
        The network.
    frame : StepFrame
        The conditioning frame.
    masks : torch.Tensor
        (N, 1, S, S) masks or probabilities.
    memory : dict
        The memory bank, changed in place.
    soft : bool
        Encode the memory from probabilities (training path) rather than the binarised mask.
    """
    out, maskmem, maskmem_pos = condition_step(
        model, frame, masks, memory, index=0, num_frames=CYCLE_FRAMES, soft=soft
    )
    memory["cond_frame_outputs"][0] = {
        "maskmem_features": maskmem,
        "maskmem_pos_enc": maskmem_pos,
        "obj_ptr": out["obj_ptr"],
        "object_score_logits": out["object_score_logits"],
    }


def predict(model, frame: StepFrame, memory: dict) -> HalfOutput:
    """Predict frame 1 of the two-frame chunk from ``memory`` alone.

    Parameters
    ----------
    model : SAM2Base
        The network.
    frame : StepFrame
        The frame to predict.
    memory : dict
        The memory bank holding the conditioning frame.

    Returns
    -------
    HalfOutput
        The prediction.
    """
    out = predict_step(model, frame, memory, index=1, num_frames=CYCLE_FRAMES)
    return HalfOutput(
        out["pred_masks_high_res"][:, 0].float(), out["object_score_logits"][:, 0].float()
    )


def forward_half(model, x0: StepFrame, masks0: torch.Tensor, x1: StepFrame) -> HalfOutput:
    """Predict x1 from template x0 and its true (N, S, S) masks.

    Parameters
    ----------
    model : SAM2Base
        The network.
    x0 : StepFrame
        The template.
    masks0 : torch.Tensor
        (N, S, S) x0's true masks.
    x1 : StepFrame
        The unlabelled specimen.

    Returns
    -------
    HalfOutput
        x1's prediction.
    """
    memory = empty_memory()
    condition(model, x0, masks0[:, None].float(), memory, soft=False)
    return predict(model, x1, memory)


def backward_half(model, x1: StepFrame, soft_prompt: torch.Tensor, x0: StepFrame) -> HalfOutput:
    """Predict x0' from x1 conditioned on the (N, S, S) ``soft_prompt``, from an empty memory.

    Parameters
    ----------
    model : SAM2Base
        The network.
    x1 : StepFrame
        The unlabelled specimen.
    soft_prompt : torch.Tensor
        (N, S, S) probabilities of x1's forward prediction.
    x0 : StepFrame
        The template, predicted back.

    Returns
    -------
    HalfOutput
        The prediction of x0'.
    """
    memory = empty_memory()  # the reset: nothing of the forward half is left
    condition(model, x1, soft_prompt[:, None], memory, soft=True)
    return predict(model, x0, memory)


def palindrome_cycle(model, x0: StepFrame, masks0: torch.Tensor, x1: StepFrame) -> CycleOutput:
    """Run one cycle x0 -> x1 -> x0' (module docstring); the soft prompt keeps the graph.

    Parameters
    ----------
    model : SAM2Base
        The network.
    x0 : StepFrame
        The template.
    masks0 : torch.Tensor
        (N, S, S) x0's true masks.
    x1 : StepFrame
        The unlabelled specimen.

    Returns
    -------
    CycleOutput
        Both halves and the soft prompt.
    """
    forward = forward_half(model, x0, masks0, x1)
    soft_prompt = torch.sigmoid(forward.logits)
    backward = backward_half(model, x1, soft_prompt, x0)
    return CycleOutput(forward, soft_prompt, backward)


def cycle_loss(
    logits: torch.Tensor,
    object_scores: torch.Tensor,
    targets: torch.Tensor,
    object_weight: float = 1.0,
) -> torch.Tensor:
    """Per-structure loss (N,) of x0' against x0's true masks; the step minimises its sum.

    As SAM 2's own training loss: BCE + Dice on the high-resolution logits for structures
    present in the template (a mask of an absent structure is not supervised), plus a BCE on
    the object score that says whether the structure is present.

    Parameters
    ----------
    logits : torch.Tensor
        (N, S, S) high-resolution mask logits of x0'.
    object_scores : torch.Tensor
        (N,) object score logits of x0'.
    targets : torch.Tensor
        (N, S, S) boolean true masks of x0 (letterboxed).
    object_weight : float
        Weight of the object-score term.

    Returns
    -------
    torch.Tensor
        (N,) loss per structure.
    """
    targets = targets.float()
    logits = logits.float().clamp(min=LOGIT_FLOOR)
    present = targets.flatten(1).amax(dim=1)
    bce = (
        F.binary_cross_entropy_with_logits(logits, targets, reduction="none").flatten(1).mean(dim=1)
    )
    probabilities = torch.sigmoid(logits).flatten(1)
    flat_targets = targets.flatten(1)
    dice = 1 - (2 * (probabilities * flat_targets).sum(1) + 1) / (
        probabilities.sum(1) + flat_targets.sum(1) + 1
    )
    presence = F.binary_cross_entropy_with_logits(object_scores.float(), present, reduction="none")
    return present * (bce + dice) + object_weight * presence
