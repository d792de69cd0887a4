"""A lean SAM 2 video loop: all structures as one batch of objects, a bounded memory bank.

sam2 1.1.0's ``SAM2VideoPredictor`` keeps one state per object and runs the network once per
object and frame, reads frames from a video folder, and keeps every frame's outputs for the
whole video.  This loop calls the model's own steps (``track_step``, ``_encode_new_memory``)
directly instead:

* the N structures are the batch dimension of one call (image features expanded to N), so a
  frame costs one pass whatever N is;
* image features come from a :class:`~traitrack.engines.sam2.features.FeatureCache`, so an
  image is encoded once per job;
* the first memory-attention layer's self-attention, which sees only the image (the same for
  every object), runs once per frame instead of once per object
  (:func:`share_image_self_attention`);
* the memory bank holds the conditioning frames and only the non-conditioning frames the
  model can still attend to (its last ``memory_frames`` spatial memories and object pointers
  up to ``max_obj_ptrs_in_encoder`` back); older entries are dropped as tracking moves on.

Conditioning frames follow the predictor's ``add_new_mask`` path exactly: with
``use_mask_input_as_output_without_sam`` the output is the input mask, and the memory is
encoded from the binarised low-resolution mask, as ``propagate_in_video_preflight`` does.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch

from traitrack.engines.sam2.features import ImageFeatures
from traitrack.engines.sam2.model import autocast, positional_encodings
from traitrack.engines.sam2.step import StepFrame, condition_step, empty_memory, predict_step


@dataclass
class TrackedFrame:
    """Model-resolution output of one frame.

    Attributes
    ----------
    index : int
        The frame's position in the chunk.
    logits : torch.Tensor
        (N, S, S) float32 mask logits, one per structure (object).
    object_scores : torch.Tensor
        (N,) object score logits (> 0: the structure is present).
    conditioning : bool
        True for a template frame (its logits are its input masks).
    """

    index: int
    logits: torch.Tensor
    object_scores: torch.Tensor
    conditioning: bool


class Sam2Tracker:
    """Runs one chunk (conditioning frames, then targets) through a SAM 2 model.

    Parameters
    ----------
    model : SAM2Base
        The network (built by :func:`~traitrack.engines.sam2.model.build_model`).
    device : torch.device
        Where to compute.
    dtype : torch.dtype
        The autocast dtype.
    memory_frames : int, optional
        Previous target frames kept as spatial memory (None: SAM 2's default,
        ``num_maskmem - 1`` = 6); fewer is faster and keeps the templates more dominant.

    Raises
    ------
    ValueError
        If ``memory_frames`` is outside 0..``num_maskmem - 1``.
    """

    def __init__(
        self, model, device: torch.device, dtype: torch.dtype, memory_frames: int | None = None
    ):
        self.model = model
        self.device = device
        self.dtype = dtype
        default = model.num_maskmem - 1
        self.memory_frames = default if memory_frames is None else int(memory_frames)
        if not 0 <= self.memory_frames <= default:
            raise ValueError(
                f"sam2 memory_frames must be between 0 and {default}, got {memory_frames}"
            )
        self._pos_enc: list[torch.Tensor] | None = None
        self._maskmem_pos_enc: list[torch.Tensor] | None = None
        self.peak_memory_entries = 0
        share_image_self_attention(model)

    # -- image features -------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, image: torch.Tensor) -> ImageFeatures:
        """Encode one normalised (1, 3, S, S) image.

        Parameters
        ----------
        image : torch.Tensor
            (1, 3, S, S) float32 (:func:`~traitrack.letterbox.normalise_image`).

        Returns
        -------
        ImageFeatures
            The backbone levels, float32 on the model's device.
        """
        with autocast(self.device, self.dtype):
            out = self.model.forward_image(image.to(self.device))
        return ImageFeatures(tuple(level.float() for level in out["backbone_fpn"]))

    def _vision_inputs(self, features: ImageFeatures, batch: int):
        """Features expanded to ``batch`` objects and flattened (HW, B, C) as track_step wants."""
        if self._pos_enc is None:  # from the model alone: cached features need no encoding
            self._pos_enc = positional_encodings(self.model, self.device, self.dtype)
        levels = [f.to(self.device, torch.float32, non_blocking=True) for f in features.levels]
        levels = levels[-self.model.num_feature_levels :]
        pos = self._pos_enc[-self.model.num_feature_levels :]
        feat_sizes = [(x.shape[-2], x.shape[-1]) for x in pos]
        feats = [x.expand(batch, -1, -1, -1).flatten(2).permute(2, 0, 1) for x in levels]
        pos_embeds = [x.expand(batch, -1, -1, -1).flatten(2).permute(2, 0, 1) for x in pos]
        return StepFrame(feats, pos_embeds, feat_sizes)

    # -- tracking -----------------------------------------------------------------------------
    @torch.inference_mode()
    def track(
        self,
        conditioning: list[tuple[ImageFeatures, torch.Tensor]],
        targets: Iterable[ImageFeatures],
        num_frames: int,
    ) -> Iterator[TrackedFrame]:
        """Yield every frame's output: the conditioning frames first, then each target in order.

        Every call starts from an empty memory bank: nothing leaks between chunks.

        Parameters
        ----------
        conditioning : list of (ImageFeatures, torch.Tensor)
            (features, masks) per template; masks is (N, S, S) bool, one per structure.
        targets : iterable of ImageFeatures
            Features of the targets, consumed lazily (one at a time in memory).
        num_frames : int
            The chunk length (SAM 2 scales object-pointer positions by it).

        Yields
        ------
        TrackedFrame
            One per frame, templates first, then the targets in order.

        Raises
        ------
        ValueError
            If there is no conditioning frame.
        """
        if not conditioning:
            raise ValueError("a SAM 2 chunk needs at least one conditioning frame")
        output_dict = empty_memory()
        batch = conditioning[0][1].shape[0]
        for index, (features, masks) in enumerate(conditioning):
            yield self._condition(index, features, masks, output_dict, num_frames)
        for index, features in enumerate(targets, start=len(conditioning)):
            # a memory nobody will read is not encoded: the chunk's last frame, or every
            # target when only the templates are remembered
            remember = self.memory_frames > 0 and index < num_frames - 1
            frame = self._propagate(index, features, batch, output_dict, num_frames, remember)
            self._forget(output_dict, index, num_frames)
            yield frame

    def _condition(self, index, features, masks, output_dict, num_frames) -> TrackedFrame:
        frame = self._vision_inputs(features, masks.shape[0])
        mask_inputs = masks[:, None].to(self.device, torch.float32)
        with autocast(self.device, self.dtype):
            # as propagate_in_video_preflight: memory from the (binarised) low-res mask
            out, maskmem, maskmem_pos = condition_step(
                self.model, frame, mask_inputs, output_dict, index=index, num_frames=num_frames
            )
        output_dict["cond_frame_outputs"][index] = self._compact(out, maskmem, maskmem_pos)
        return TrackedFrame(
            index,
            out["pred_masks_high_res"][:, 0].float(),
            out["object_score_logits"][:, 0].float(),
            True,
        )

    def _propagate(self, index, features, batch, output_dict, num_frames, remember) -> TrackedFrame:
        frame = self._vision_inputs(features, batch)
        with autocast(self.device, self.dtype):
            out = predict_step(
                self.model,
                frame,
                output_dict,
                index=index,
                num_frames=num_frames,
                remember=remember,
            )
        if remember:
            output_dict["non_cond_frame_outputs"][index] = self._compact(
                out, out["maskmem_features"], out["maskmem_pos_enc"]
            )
        return TrackedFrame(
            index,
            out["pred_masks_high_res"][:, 0].float(),
            out["object_score_logits"][:, 0].float(),
            False,
        )

    def _compact(self, out, maskmem, maskmem_pos) -> dict:
        """What later frames read from a frame: its memory (bfloat16, as sam2) and pointer."""
        if self._maskmem_pos_enc is None:
            self._maskmem_pos_enc = [x[:1].clone() for x in maskmem_pos]
        batch = maskmem.shape[0]
        return {
            "maskmem_features": maskmem.to(torch.bfloat16),
            "maskmem_pos_enc": [x.expand(batch, -1, -1, -1) for x in self._maskmem_pos_enc],
            "obj_ptr": out["obj_ptr"],
            "object_score_logits": out["object_score_logits"],
        }

    def _forget(self, output_dict, index: int, num_frames: int) -> None:
        """Drop what no later frame can attend to.

        The next frame reads spatial memories of its last ``num_maskmem - 1`` frames and
        object pointers up to ``max_obj_ptrs - 1`` frames back.  With ``memory_frames``
        below SAM 2's default the whole entry goes after ``memory_frames`` frames (an entry
        without spatial memory inside the model's window would be read); otherwise only the
        spatial memory goes, and the small pointer stays while it can still be attended to.
        """
        entries = output_dict["non_cond_frame_outputs"]
        next_index = index + 1
        default = self.model.num_maskmem - 1
        pointer_window = min(num_frames, self.model.max_obj_ptrs_in_encoder) - 1
        if self.memory_frames < default:
            pointer_window = self.memory_frames
        for t in list(entries):
            age = next_index - t
            if age > pointer_window:
                del entries[t]
            elif age > self.memory_frames:
                entries[t]["maskmem_features"] = None
        self.peak_memory_entries = max(self.peak_memory_entries, len(entries))


def share_image_self_attention(model) -> None:
    """Run the first memory-attention self-attention once per frame, not once per object.

    The tracker feeds the N objects one image, expanded (batch stride 0).  Before the first
    cross-attention nothing depends on the object: SAM 2's first layer would compute the same
    self-attention N times.  This forward (sam2 1.1.0's ``MemoryAttention.forward`` otherwise
    line for line) computes it on one copy and expands it; any other input (distinct images per
    batch row, training mode) takes sam2's own forward unchanged.

    Parameters
    ----------
    model : SAM2Base
        The network; its ``memory_attention.forward`` is replaced once (a second call does
        nothing).
    """
    from sam2.modeling.sam.transformer import RoPEAttention

    attention = model.memory_attention
    if getattr(attention, "_traitrack_shared", False):
        return
    original = type(attention).forward

    def forward(self, curr, memory, curr_pos=None, memory_pos=None, num_obj_ptr_tokens: int = 0):
        image, image_pos = (curr[0], curr_pos[0]) if isinstance(curr, list) else (curr, curr_pos)
        shared = (
            not self.training
            and self.batch_first
            and image_pos is not None
            and image.shape[1] > 1
            and image.stride(1) == 0
            and image_pos.stride(1) == 0
        )
        if not shared:
            return original(self, curr, memory, curr_pos, memory_pos, num_obj_ptr_tokens)
        batch = image.shape[1]
        output = image[:, :1]
        if self.pos_enc_at_input:
            output = output + 0.1 * image_pos[:, :1]
        output = output.transpose(0, 1)  # batch first: (1, HW, C)
        query_pos = image_pos.transpose(0, 1)
        memory, memory_pos = memory.transpose(0, 1), memory_pos.transpose(0, 1)
        first, *rest = self.layers
        # MemoryAttentionLayer.forward, its object-independent self-attention done once
        output = first._forward_sa(output, query_pos[:1]).expand(batch, -1, -1)
        output = first._forward_ca(output, memory, query_pos, memory_pos, num_obj_ptr_tokens)
        output = output + first.dropout3(
            first.linear2(first.dropout(first.activation(first.linear1(first.norm3(output)))))
        )
        for layer in rest:
            kwds = (
                {"num_k_exclude_rope": num_obj_ptr_tokens}
                if isinstance(layer.cross_attn_image, RoPEAttention)
                else {}
            )
            output = layer(tgt=output, memory=memory, pos=memory_pos, query_pos=query_pos, **kwds)
        return self.norm(output).transpose(0, 1)

    attention.forward = types.MethodType(forward, attention)
    if is_vos_optimized(model):  # sam2 compiled the forward this replaces: compile ours alike
        attention.forward = torch.compile(attention.forward, mode="max-autotune", dynamic=True)
    attention._traitrack_shared = True


def is_vos_optimized(model) -> bool:
    """Whether ``model`` is sam2's compiled ``SAM2VideoPredictorVOS`` (option vos_optimized)."""
    from sam2.sam2_video_predictor import SAM2VideoPredictorVOS

    return isinstance(model, SAM2VideoPredictorVOS)
