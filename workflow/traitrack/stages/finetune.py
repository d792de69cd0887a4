"""Stage of ``finetune.smk``: palindrome fine-tuning of SAM 2 on one species.

A job killed by its time limit resumes from the training state next to the weights
(:mod:`traitrack.finetune.train`); needs torch and sam2.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from traitrack.engines.sam2.engine import Sam2Options, model_spec
from traitrack.engines.sam2.model import build_model
from traitrack.finetune.data import file_key, load_templates
from traitrack.finetune.train import (
    FeatureSource,
    FinetuneOptions,
    fingerprint_of,
    loss_table,
    train,
    write_loss_plot,
)
from traitrack.finetune.weights import make_trainable, save_weights
from traitrack.io import write_table
from traitrack.samples import TrainingSet, training_set
from traitrack.species_context import SpeciesContext

log = logging.getLogger(__name__)


def run_finetune(
    context: SpeciesContext,
    *,
    finetune: Mapping[str, Any],
    sam2: Mapping[str, Any] | None,
    seed: int,
    weights_out: str | Path,
    loss_out: str | Path,
    plot_out: str | Path,
    state_path: str | Path | None = None,
    on_step: Callable[[int, dict], None] | None = None,
    threads: int | None = None,
) -> list[dict]:
    """Fine-tune SAM 2 on one species: train, then write weights, loss table and plot.

    ``finetune`` and ``sam2`` are the config's sections, ``seed`` its seed.

    ``state_path`` (default ``state.pt`` next to the weights) holds the resumable state; it is
    deleted once the outputs are written.  ``threads`` caps torch's CPU threads at the job's
    allocation (torch would otherwise start one per core of the node and stall on a shared one).
    """
    species, structures = context.species, context.structures
    if threads:
        torch.set_num_threads(int(threads))
    options = FinetuneOptions.from_config({"finetune": finetune, "seed": seed})
    data: TrainingSet = training_set(context.sheet, species, options.pool, options.allow_gt_targets)
    engine_options = Sam2Options.from_config(sam2)
    # compiled modules (vos_optimized) are an inference option: training runs sam2 eagerly
    spec = replace(model_spec(engine_options, seed=options.seed), vos_optimized=False)
    torch.manual_seed(options.seed)
    model, device, dtype = build_model(spec)
    named = make_trainable(model, options.lora)
    model.to(device)
    templates = load_templates(data.templates, structures, spec.image_size)
    features = FeatureSource(
        model,
        device,
        dtype,
        engine_options.features_in_memory,
        getattr(torch, engine_options.feature_dtype),
        working_megapixels=context.working_megapixels,
    )
    state_path = Path(state_path) if state_path else Path(weights_out).with_name("state.pt")
    fingerprint = fingerprint_of(
        asdict(options),
        asdict(spec),
        context.working_megapixels,
        structures.names,
        [(t.specimen, t.image, t.mask) for t in data.templates],
        [(t.specimen, file_key(t, spec.image_size)) for t in data.targets],
    )
    log.info(
        "fine-tuning %s on %d templates and %d targets (%s, %d trainable tensors, encoder %s)",
        species,
        len(templates),
        len(data.targets),
        "LoRA" if options.lora.enabled else "full",
        len(named),
        "frozen" if features.frozen else "learning",
    )
    try:
        rows = train(
            model,
            named,
            features,
            templates,
            data.targets,
            options,
            structures.names,
            state_path,
            fingerprint,
            on_step,
        )
    finally:
        features.close()
    base = {
        "model_size": spec.model_size,
        "checkpoint": Path(spec.checkpoint).name if spec.checkpoint else "",
        "random_weights": spec.random_weights,
        "image_size": spec.image_size,
        "species": species,
    }
    save_weights(weights_out, named, options.lora, base, steps=len(rows))
    table = loss_table(rows, structures.names)
    write_table(loss_out, table)
    write_loss_plot(plot_out, table, species)
    state_path.unlink(missing_ok=True)
    return rows
