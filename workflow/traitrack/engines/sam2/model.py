"""Build the SAM 2.1 model; choose its device and dtype.

A real run needs a real checkpoint: :func:`build_model` refuses random weights unless the
config asks for them (tests), and loads the checkpoint through
:mod:`traitrack.engines.sam2.checkpoint`, where every weights file is read with
``weights_only=True`` and every failure names the file and the fix. The model is built from the
SAM 2.1 configs shipped inside the ``sam2`` package, with the image size (and the memory
attention's RoPE feature size, which follows from it) overridden, so one code path serves the
256 px random test model and the 1024 px production model.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from traitrack.engines.sam2.checkpoint import load_checkpoint_strict

MODEL_CONFIGS = {
    "tiny": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "small": "configs/sam2.1/sam2.1_hiera_s.yaml",
    "base_plus": "configs/sam2.1/sam2.1_hiera_b+.yaml",
    "large": "configs/sam2.1/sam2.1_hiera_l.yaml",
}
CHECKPOINT_URL = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_{size}.pt"
BACKBONE_STRIDE = 16
IMAGE_SIZE_MULTIPLE = 32  # Hiera pools the stride-4 grid three times: the grid must divide


class RandomWeightsRefused(ValueError):
    """A real run asked for a model without a checkpoint."""


@dataclass(frozen=True)
class ModelSpec:
    """What defines the network and its weights (the options of the ``sam2`` engine).

    Attributes
    ----------
    model_size : str
        One of :data:`MODEL_CONFIGS`: ``tiny``, ``small``, ``base_plus`` or ``large``.
    checkpoint : str or None
        The SAM 2.1 checkpoint file; None (or empty) builds random weights.
    image_size : int
        The square input side, a multiple of :data:`IMAGE_SIZE_MULTIPLE` and >= 64.
    device : str
        ``auto`` or a torch device (:func:`resolve_device`).
    dtype : str
        ``auto``, ``float32``, ``bfloat16`` or ``float16`` (:func:`resolve_dtype`).
    allow_random_weights : bool
        Let a model without checkpoint be built (tests only).
    seed : int
        Seeds the random weights.
    vos_optimized : bool
        Build sam2's ``SAM2VideoPredictorVOS``: its image encoder, memory encoder, memory
        attention, prompt encoder and mask decoder compiled with ``torch.compile`` (a GPU speed
        option; the first frames pay the compilation).
    """

    model_size: str = "tiny"
    checkpoint: str | None = None
    image_size: int = 1024
    device: str = "auto"
    dtype: str = "auto"
    allow_random_weights: bool = False
    seed: int = 0
    vos_optimized: bool = False

    def __post_init__(self) -> None:
        if self.model_size not in MODEL_CONFIGS:
            raise ValueError(
                f"sam2 model_size must be one of {sorted(MODEL_CONFIGS)}, got {self.model_size!r}"
            )
        if self.image_size < 64 or self.image_size % IMAGE_SIZE_MULTIPLE:
            raise ValueError(
                f"sam2 image_size must be a multiple of {IMAGE_SIZE_MULTIPLE} and >= 64 "
                f"(Hiera's pooled grid must divide evenly), got {self.image_size}"
            )
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ValueError(
                f"sam2 dtype must be auto, float32, bfloat16 or float16, got {self.dtype!r}"
            )

    @property
    def random_weights(self) -> bool:
        """Whether no checkpoint is given, so the weights are random."""
        return not self.checkpoint


def checkpoint_url(model_size: str) -> str:
    """Return the official SAM 2.1 checkpoint URL for a model size.

    Parameters
    ----------
    model_size : str
        One of :data:`MODEL_CONFIGS` (``base_plus`` keeps its name in the URL).

    Returns
    -------
    str
        The download URL.

    Raises
    ------
    ValueError
        If the size is unknown.
    """
    if model_size not in MODEL_CONFIGS:
        raise ValueError(
            f"unknown SAM 2.1 model size {model_size!r}; choose one of {sorted(MODEL_CONFIGS)}"
        )
    return CHECKPOINT_URL.format(size=model_size)


def resolve_device(device: str = "auto") -> torch.device:
    """Resolve the ``device`` option: ``auto`` picks CUDA when a GPU is visible, else the CPU.

    Parameters
    ----------
    device : str
        ``auto`` or a torch device name, taken literally.

    Returns
    -------
    torch.device
        The device.

    Raises
    ------
    ValueError
        If CUDA is asked for but no CUDA device is visible.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"sam2 device {device!r} was asked for but no CUDA device is visible; use 'auto' or 'cpu'"
        )
    return resolved


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """Resolve the ``dtype`` option: ``auto`` is bfloat16 on CUDA and float32 on the CPU.

    bfloat16 autocast is SAM 2's own setting on CUDA.

    Parameters
    ----------
    dtype : str
        ``auto``, ``float32``, ``bfloat16`` or ``float16``.
    device : torch.device
        The resolved device.

    Returns
    -------
    torch.dtype
        The autocast dtype.
    """
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, dtype)


def autocast(device: torch.device, dtype: torch.dtype):
    """Return an autocast context for reduced precision, or a no-op for float32.

    Parameters
    ----------
    device : torch.device
        Where the model runs.
    dtype : torch.dtype
        The autocast dtype.

    Returns
    -------
    contextlib.AbstractContextManager
        ``torch.autocast`` or a null context.
    """
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def positional_encodings(
    model: torch.nn.Module, device: torch.device, dtype: torch.dtype
) -> list[torch.Tensor]:
    """The image encoder's positional encodings, one ``(1, C, h, w)`` float32 map per level.

    They depend on the feature maps' sizes (the model's image size), never on an image: the
    neck runs once on zero trunk outputs of the right shapes, under the same autocast as
    :meth:`SAM2Base.forward_image`, so each encoding is cast to the dtype the neck gives its
    level, exactly as for a real image.  A tracker reading cached features therefore never
    needs to encode an image to know them.

    Parameters
    ----------
    model : torch.nn.Module
        A SAM 2 model (``image_encoder`` with an FPN neck over a Hiera trunk).
    device : torch.device
        Where the model lives.
    dtype : torch.dtype
        The autocast dtype of the encoder (float32: no autocast).

    Returns
    -------
    list of torch.Tensor
        The encodings of the levels the encoder returns (``vision_pos_enc``), finest first.
    """
    encoder = model.image_encoder
    channels = encoder.neck.backbone_channel_list  # coarsest level first
    count = len(channels)
    trunk_levels = []
    for level in range(count):  # the trunk's strides are 4, 8, 16, 32
        side = model.image_size // (4 * 2**level)
        trunk_levels.append(torch.zeros(1, channels[count - 1 - level], side, side, device=device))
    with torch.no_grad(), autocast(device, dtype):  # no_grad: training may use them too
        _, pos = encoder.neck(trunk_levels)
    if encoder.scalp > 0:
        pos = pos[: -encoder.scalp]
    return [p.float() for p in pos]


def hydra_overrides(image_size: int, vos_optimized: bool = False) -> list[str]:
    """Config overrides that make a SAM 2.1 config work at ``image_size``.

    The RoPE tables of the memory attention are sized for the stride-16 grid; sam2 would
    rebuild them on the first call anyway, but sizing them here keeps the model honest about
    its resolution.  The remaining overrides are those ``build_sam2_video_predictor`` applies
    (dynamic multimask fallback, binarised memory for prompted frames); hole filling is left
    out because it needs sam2's CUDA extension.

    Parameters
    ----------
    image_size : int
        The square input side.
    vos_optimized : bool
        Build sam2's compiled ``SAM2VideoPredictorVOS`` with a compiled image encoder, as
        ``build_sam2_video_predictor(vos_optimized=True)`` does.

    Returns
    -------
    list of str
        Hydra override strings.
    """
    grid = image_size // BACKBONE_STRIDE
    target = [
        "++model._target_=sam2.sam2_video_predictor.SAM2VideoPredictorVOS",
        "++model.compile_image_encoder=True",
    ]
    if not vos_optimized:
        target = ["++model._target_=sam2.sam2_video_predictor.SAM2VideoPredictor"]
    return [
        *target,
        f"++model.image_size={image_size}",
        f"++model.memory_attention.layer.self_attention.feat_sizes=[{grid},{grid}]",
        f"++model.memory_attention.layer.cross_attention.feat_sizes=[{grid},{grid}]",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
        "++model.binarize_mask_from_pts_for_mem_enc=true",
    ]


def instantiate_model(
    model_size: str, image_size: int, seed: int = 0, vos_optimized: bool = False
) -> torch.nn.Module:
    """Build a SAM 2.1 video predictor network with random weights drawn under ``seed``.

    Parameters
    ----------
    model_size : str
        One of :data:`MODEL_CONFIGS`.
    image_size : int
        The square input side.
    seed : int
        Seeds the random weights (torch's global generator is left as it was).
    vos_optimized : bool
        Build the compiled ``SAM2VideoPredictorVOS`` (:func:`hydra_overrides`).

    Returns
    -------
    torch.nn.Module
        The network in eval mode, on the CPU.
    """
    import sam2  # noqa: F401  (initialises hydra's config module)
    from hydra import compose
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    overrides = hydra_overrides(image_size, vos_optimized)
    cfg = compose(config_name=MODEL_CONFIGS[model_size], overrides=overrides)
    OmegaConf.resolve(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = instantiate(cfg.model, _recursive_=True)
    return model.eval()


def build_model(spec: ModelSpec) -> tuple[torch.nn.Module, torch.device, torch.dtype]:
    """Build the model on its device, with the autocast dtype to run it in.

    A real run must never silently segment with noise, so random weights need
    ``allow_random_weights: true``.

    Parameters
    ----------
    spec : ModelSpec
        The engine's model options.

    Returns
    -------
    model : torch.nn.Module
        The network in eval mode, its parameters frozen.
    device : torch.device
        Where it runs.
    dtype : torch.dtype
        The autocast dtype.

    Raises
    ------
    RandomWeightsRefused
        If no checkpoint is given and random weights are not allowed.
    CheckpointError
        If the checkpoint cannot be loaded strictly.
    """
    if spec.random_weights and not spec.allow_random_weights:
        raise RandomWeightsRefused(
            "the sam2 engine needs a checkpoint: set engine option checkpoint to a SAM 2.1 file "
            f"(the download_checkpoint rule fetches {checkpoint_url(spec.model_size)} into "
            "resources/checkpoints/); only tests may set allow_random_weights: true"
        )
    device = resolve_device(spec.device)
    dtype = resolve_dtype(spec.dtype, device)
    model = instantiate_model(
        spec.model_size, spec.image_size, seed=spec.seed, vos_optimized=spec.vos_optimized
    )
    if not spec.random_weights:
        load_checkpoint_strict(model, spec.checkpoint)
    model = model.to(device).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model, device, dtype
