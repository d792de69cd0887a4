"""The student on an ImageNet encoder: EfficientNet-Lite and a U-Net decoder with skips.

The encoder (:mod:`.efficientnet_lite`) gives features at strides 2, 4, 8, 16 and 32; the
decoder climbs back one stride at a time, each step upsampling by 2 (bilinear), concatenating
the encoder's features of that stride (the skip connection, which carries the fine detail a
thin leg or an ant's eye needs) and mixing them with two 3 x 3 convolutions (batch norm,
ReLU), as U-Net and segmentation-models-pytorch's ``Unet`` do; a last step to the input's
resolution and a 1 x 1 convolution give the class logits.  The encoder starts from the
ImageNet weights of the installed package (``pretrained``) or, only when the config asks,
from random initialisation.  Inputs are ImageNet-normalised (:func:`traitrack.letterbox.normalise_squares`), as
the weights were trained.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from traitrack.selftrain.efficientnet_lite import EfficientNetLite, load_imagenet_weights

DECODER_CHANNELS = (128, 64, 32, 24, 16)
"""Channels of the decoder's steps, stride 16 -> 8 -> 4 -> 2 -> 1: few at full resolution,
where each channel costs most on a CPU."""


def conv_block(inputs: int, outputs: int) -> nn.Sequential:
    """Two 3 x 3 convolutions, each with batch norm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
        nn.Conv2d(outputs, outputs, 3, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
    )


class EncoderUNet(nn.Module):
    """U-Net decoder over an EfficientNet-Lite encoder (its classification head dropped).

    Parameters
    ----------
    variant : str
        ``efficientnet-lite0``, ``-lite1`` or ``-lite2``.
    classes : int
        Output channels: background + the structures.
    pretrained : bool
        Load the encoder's ImageNet weights (strictly, from the installed package); False only
        when the config asks for random initialisation.
    """

    def __init__(self, variant: str, classes: int, *, pretrained: bool = True):
        super().__init__()
        encoder = EfficientNetLite(variant)
        if pretrained:
            load_imagenet_weights(encoder)
        for head in ("_conv_head", "_bn1", "_fc"):  # the classifier's; segmentation needs none
            delattr(encoder, head)
        self.encoder = encoder
        skips = encoder.skip_channels  # strides 2, 4, 8, 16, 32
        channels = skips[-1]
        steps = []
        for skip, outputs in zip([*reversed(skips[:-1]), 0], DECODER_CHANNELS):
            steps.append(conv_block(channels + skip, outputs))
            channels = outputs
        self.decoder = nn.ModuleList(steps)
        self.head = nn.Conv2d(channels, classes, 1)
        # channels-last runs the depthwise and 1 x 1 convolutions about 1.7 times as fast on a
        # CPU; loaded and saved state dicts keep their values whatever the layout
        self.to(memory_format=torch.channels_last)

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The encoder's parameters (trained at a lower rate than the decoder's)."""
        return list(self.encoder.parameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, classes, H, W) of ImageNet-normalised images (B, 3, H, W)."""
        features = self.encoder.features(x.contiguous(memory_format=torch.channels_last))
        skips = [*reversed(features[:-1]), None]  # strides 16, 8, 4, 2, then the input's
        y = features[-1]
        for step, skip in zip(self.decoder, skips):
            size = x.shape[-2:] if skip is None else skip.shape[-2:]
            y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
            y = step(y if skip is None else torch.cat([y, skip], dim=1))
        return self.head(y)
