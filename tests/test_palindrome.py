"""Palindrome fine-tuning on the tiny random-weight SAM 2.1 at image size 256, on the CPU.

Random weights make the masks meaningless; these tests check the mechanics that do not depend
on them: the memory reset between the two halves, where the gradient goes, the loss as a sum
over structures, the sampling, that training lowers the loss, and the weights file (reload,
LoRA merge, resume after a kill, effect on ``propagate``).  One model is shared by the module
and the synthetic specimens are tiny.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from PIL import Image  # noqa: E402

from traitrack.config import validate_config  # noqa: E402
from traitrack.engines import make_engine  # noqa: E402
from traitrack.engines.base import Frame  # noqa: E402
from traitrack.engines.sam2.checkpoint import (  # noqa: E402
    CheckpointError,
    apply_finetuned_weights,
)
from traitrack.engines.sam2.model import ModelSpec, build_model, instantiate_model  # noqa: E402
from traitrack.finetune.cycle import (  # noqa: E402
    backward_half,
    condition,
    cycle_loss,
    empty_memory,
    frame_inputs,
    predict,
)
from traitrack.finetune.data import PairSampler, load_templates, training_set  # noqa: E402
from traitrack.finetune.train import (  # noqa: E402
    FeatureSource,
    FinetuneOptions,
    cycle_step,
    mean_cycle_loss,
    train,
)
from traitrack.finetune.weights import (  # noqa: E402
    LoraOptions,
    make_trainable,
    save_weights,
)
from traitrack.io import InputError  # noqa: E402
from traitrack.samples import read_sample_sheet  # noqa: E402
from traitrack.species_context import SpeciesContext
from traitrack.stages.finetune import run_finetune  # noqa: E402
from traitrack.structures import StructureTable  # noqa: E402

pytestmark = pytest.mark.sam2

SIZE = 256
SAM2_OPTIONS = {
    "model_size": "tiny",
    "image_size": SIZE,
    "allow_random_weights": True,
    "device": "cpu",
}
STRUCTURES = [{"name": "head", "value": 1}, {"name": "body", "value": 2}]
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def beetle(rng, height=60, width=44) -> tuple[np.ndarray, np.ndarray]:
    """A noisy image of a two-part 'specimen' and its label map (1 head, 2 body)."""
    yy, xx = np.mgrid[:height, :width]
    cy, cx = 32 + rng.integers(-4, 5), 22 + rng.integers(-3, 4)
    labels = np.zeros((height, width), np.uint8)
    labels[((yy - cy) / 18) ** 2 + ((xx - cx) / 12) ** 2 < 1] = 2
    labels[((yy - cy + 22) / 6) ** 2 + ((xx - cx) / 6) ** 2 < 1] = 1
    image = np.full((height, width, 3), 220, np.int64)
    image[labels == 2] = (60, 40, 20)
    image[labels == 1] = (120, 30, 30)
    return np.clip(image + rng.integers(-20, 21, image.shape), 0, 255).astype(np.uint8), labels


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: on the shared 2-core machine two OpenMP threads stall each other
    (this file took 106 s with 2 threads and 38 s with 1 under a load average of 3.8)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sheet_path(tmp_path_factory):
    """Templates t0, t1; targets u0, u1; g0 has a gt_mask (held out); o0 is another species."""
    root = tmp_path_factory.mktemp("palindrome")
    rng = np.random.default_rng(0)
    rows = ["specimen\tspecies\timage\tmask\tgt_mask\tgenus"]
    for name, species, role in [
        ("t0", "sp", "template"),
        ("t1", "sp", "template"),
        ("u0", "sp", ""),
        ("u1", "sp", ""),
        ("g0", "sp", "gt"),
        ("o0", "other_sp", "template"),
    ]:
        image, labels = beetle(rng)
        Image.fromarray(image).save(root / f"{name}.png")
        Image.fromarray(labels).save(root / f"{name}_mask.png")
        mask = str(root / f"{name}_mask.png")
        rows.append(
            "\t".join(
                [
                    name,
                    species,
                    str(root / f"{name}.png"),
                    mask if role == "template" else "",
                    mask if role == "gt" else "",
                    "gen",
                ]
            )
        )
    (root / "samples.tsv").write_text("\n".join(rows) + "\n")
    return root / "samples.tsv"


@pytest.fixture(scope="module")
def setup(sheet_path):
    """One tiny model (everything but the encoder trainable), the species' data, one cycle."""
    model, device, dtype = build_model(ModelSpec(**SAM2_OPTIONS))
    named = make_trainable(model, LoraOptions())
    data = training_set(read_sample_sheet(sheet_path), "sp")
    structures = StructureTable.from_config({"structures": STRUCTURES})
    templates = load_templates(data.templates, structures, SIZE)
    features = FeatureSource(model, device, dtype)
    losses, out = cycle_step(model, features, templates[0], data.targets[0])
    out.forward.logits.retain_grad()
    losses.sum().backward()
    yield {
        "model": model,
        "named": named,
        "data": data,
        "templates": templates,
        "features": features,
        "losses": losses.detach(),
        "out": out,
    }
    features.close()


def inputs(setup, specimen, batch=2):
    levels, pos = setup["features"].levels(specimen)
    return frame_inputs(setup["model"], levels, pos, batch)


def test_memory_reset_nothing_of_x0_leaks_into_the_backward_half(setup):
    model, out = setup["model"], setup["out"]
    x0, x1 = inputs(setup, setup["templates"][0].specimen), inputs(setup, setup["data"].targets[0])
    prompt = out.soft_prompt.detach()
    with torch.no_grad():
        alone = backward_half(model, x1, prompt, x0)
        # control: had x0's memory survived, the prediction of x0' would differ
        leaky = empty_memory()
        condition(model, x0, setup["templates"][0].masks[:, None].float(), leaky, soft=False)
        leaky["cond_frame_outputs"][-1] = leaky["cond_frame_outputs"].pop(0)
        condition(model, x1, prompt[:, None], leaky, soft=True)
        leaked = predict(model, x0, leaky)
    assert torch.equal(alone.logits, out.backward.logits.detach())
    assert torch.equal(alone.object_scores, out.backward.object_scores.detach())
    assert not torch.allclose(leaked.logits, alone.logits)


def test_gradient_reaches_forward_prediction_and_trainable_parameters_not_the_encoder(setup):
    model, out = setup["model"], setup["out"]
    assert (
        out.forward.logits.grad is not None and out.forward.logits.grad.abs().sum() > 0
    )  # via the soft prompt
    assert (
        out.soft_prompt.min() >= 0
        and out.soft_prompt.max() <= 1
        and ((out.soft_prompt > 0.01) & (out.soft_prompt < 0.99)).any()
    )
    grads = {name: p.grad for name, p in model.named_parameters()}
    for part in (
        "memory_attention.",
        "memory_encoder.",
        "sam_mask_decoder.conv_s0",
        "sam_mask_decoder.transformer",
        "obj_ptr_proj.",
    ):
        assert any(
            g is not None and g.abs().sum() > 0 for n, g in grads.items() if n.startswith(part)
        ), part
    encoder = [n for n in grads if n.startswith("image_encoder.")]
    assert encoder and all(grads[n] is None for n in encoder)
    assert all(not p.requires_grad for p in model.image_encoder.parameters())


def test_loss_is_the_sum_over_structures_each_as_if_alone(setup):
    model, template, target = setup["model"], setup["templates"][0], setup["data"].targets[0]
    losses = setup["losses"]
    assert losses.shape == (2,) and (losses > 0).all()
    for index in range(2):
        single = template.__class__(template.specimen, template.masks[index : index + 1])
        with torch.no_grad():
            alone, _ = cycle_step(model, setup["features"], single, target)
        torch.testing.assert_close(alone[0], losses[index], rtol=1e-4, atol=1e-5)


def test_cycle_loss_known_answers():
    targets = torch.zeros(2, 4, 4, dtype=torch.bool)
    targets[0, :2] = True  # structure 2 is absent from the template
    perfect = torch.where(targets, 30.0, -30.0)
    scores = torch.tensor([30.0, -30.0])
    np.testing.assert_allclose(cycle_loss(perfect, scores, targets).numpy(), [0, 0], atol=1e-6)
    wrong = cycle_loss(-perfect, -scores, targets)
    assert wrong[0] > 30 and 29 < wrong[1] < 31  # absent structure: only its object score counts
    floored = cycle_loss(torch.full((2, 4, 4), -1024.0), scores, targets)
    assert floored[0] < 60  # SAM 2's 'absent' logits do not blow up the table


def test_training_set_and_sampling_visit_every_template(sheet_path):
    sheet = read_sample_sheet(sheet_path)
    data = training_set(sheet, "sp")
    assert [t.specimen for t in data.templates] == ["t0", "t1"]
    assert [t.specimen for t in data.targets] == ["u0", "u1"]  # g0's gt_mask is for evaluation
    assert [t.specimen for t in training_set(sheet, "sp", allow_gt_targets=True).targets] == [
        "u0",
        "u1",
        "g0",
    ]
    assert [t.specimen for t in training_set(sheet, "sp", pool="genus").templates] == [
        "t0",
        "t1",
        "o0",
    ]
    with pytest.raises(InputError, match="finetune.pool"):
        training_set(sheet, "other_sp")
    sampler = PairSampler(templates=3, targets=5, seed=4)
    pairs = [sampler.pair(step) for step in range(30)]
    for start in range(0, 30, 3):
        assert sorted(t for t, _ in pairs[start : start + 3]) == [0, 1, 2]
    for start in range(0, 30, 5):
        assert sorted(g for _, g in pairs[start : start + 5]) == [0, 1, 2, 3, 4]
    assert pairs == [PairSampler(3, 5, seed=4).pair(s) for s in range(30)]
    assert pairs != [PairSampler(3, 5, seed=5).pair(s) for s in range(30)]


def test_options_from_config():
    options = FinetuneOptions.from_config(
        {
            "seed": 3,
            "finetune": {"enabled": True, "epochs": 2, "lora": {"enabled": True, "rank": 4}},
        }
    )
    assert options.seed == 3 and options.lora.rank == 4 and options.lora.scale == 4.0
    assert options.total_steps(targets=7) == 14 and FinetuneOptions(steps=9).total_steps(7) == 9
    with pytest.raises(ValueError, match="batch"):
        FinetuneOptions.from_config({"finetune": {"batch": 2}})
    # the schema's defaults and the dataclass's are the same
    assert (
        FinetuneOptions.from_config(validate_config({"structures": STRUCTURES}))
        == FinetuneOptions()
    )
    with pytest.raises(ValueError, match="finetune/pool"):
        validate_config({"structures": STRUCTURES, "finetune": {"pool": "family"}})


def test_full_weights_reload_exactly_and_foreign_files_are_refused(setup, tmp_path):
    path = tmp_path / "weights.pt"
    save_weights(path, setup["named"], LoraOptions(), {"model_size": "tiny"}, steps=1)
    fresh = instantiate_model(
        "tiny", SIZE, seed=1
    )  # other base weights: the file must overwrite them
    apply_finetuned_weights(fresh, path, "tiny")
    trained = dict(setup["model"].named_parameters())
    for name, parameter in fresh.named_parameters():
        if not name.startswith("image_encoder."):
            assert torch.equal(parameter, trained[name]), name
    assert torch.load(path, weights_only=True)["mode"] == "full"
    with pytest.raises(CheckpointError, match="model_size"):
        apply_finetuned_weights(fresh, path, "small")
    (tmp_path / "junk.pt").write_bytes(b"not a file")
    with pytest.raises(CheckpointError, match="cannot be read"):
        apply_finetuned_weights(fresh, tmp_path / "junk.pt", "tiny")


def test_lora_trains_only_adapters_and_merges_into_the_same_layers(setup, tmp_path):
    lora = LoraOptions(enabled=True, rank=4, alpha=8)
    model = instantiate_model("tiny", SIZE, seed=0)
    base = copy.deepcopy(model)
    named = make_trainable(model, lora)
    assert named and all(".lora_" in n for n, _ in named)
    features = FeatureSource(model, torch.device("cpu"), torch.float32)
    losses, _ = cycle_step(model, features, setup["templates"][0], setup["data"].targets[0])
    losses.sum().backward()
    features.close()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for n, p in named if ".lora_B." in n)
    assert all(p.grad is None for n, p in model.named_parameters() if ".lora_" not in n)

    with torch.no_grad():
        for name, parameter in named:
            if ".lora_B." in name:
                parameter.normal_(std=0.05)
    path = tmp_path / "adapter.pt"
    save_weights(path, named, lora, {"model_size": "tiny"}, steps=1)
    apply_finetuned_weights(base, path, "tiny")
    merged_layers = dict(base.named_modules())
    wrapped = {n: m for n, m in model.named_modules() if hasattr(m, "lora_A")}
    assert any(
        isinstance(m.base_layer, torch.nn.Conv2d) for m in wrapped.values()
    )  # memory_encoder.out_proj
    for name, layer in wrapped.items():
        base_layer = layer.base_layer
        if isinstance(base_layer, torch.nn.Linear):
            probe = torch.randn(3, base_layer.in_features)
        else:
            probe = torch.randn(1, base_layer.in_channels, 5, 5)
        with torch.no_grad():
            torch.testing.assert_close(
                merged_layers[name](probe), layer(probe), rtol=1e-4, atol=1e-5
            )


class Killed(Exception):
    pass


def finetune_config(steps, **extra):
    return {
        "seed": 0,
        "structures": STRUCTURES,
        "background": {"value": 0},
        "sam2": dict(SAM2_OPTIONS),
        "finetune": {
            "enabled": True,
            "steps": steps,
            "lr": 2e-3,
            "save_every": 1,
            "lora": {"enabled": True, "rank": 4, "alpha": 8},
            **extra,
        },
    }


def finetune_stage(sheet_path, config, outputs, **extra):
    """The finetune rule's call: its script passes the config's sections as plain values."""
    return run_finetune(
        SpeciesContext.from_sheet(sheet_path, "sp", structures=StructureTable.from_config(config)),
        finetune=config["finetune"],
        sam2=config["sam2"],
        seed=config["seed"],
        weights_out=outputs[0],
        loss_out=outputs[1],
        plot_out=outputs[2],
        **extra,
    )


def test_killed_job_resumes_and_tuned_weights_change_propagate(sheet_path, tmp_path):
    config = finetune_config(steps=2)
    outputs = [tmp_path / "run" / n for n in ("weights.pt", "loss.tsv", "loss.png")]

    def kill_after_first(step, row):
        if step == 0:
            raise Killed

    with pytest.raises(Killed):
        finetune_stage(sheet_path, config, outputs, on_step=kill_after_first)
    assert (tmp_path / "run" / "state.pt").is_file() and not outputs[0].exists()
    steps_run = []
    rows = finetune_stage(
        sheet_path, config, outputs, on_step=lambda step, row: steps_run.append(step)
    )
    assert steps_run == [1] and [r["step"] for r in rows] == [1, 2]  # resumed at the second step
    assert not (tmp_path / "run" / "state.pt").exists() and all(
        p.stat().st_size > 0 for p in outputs
    )

    reference = [tmp_path / "ref" / n for n in ("weights.pt", "loss.tsv", "loss.png")]
    finetune_stage(sheet_path, config, reference)
    resumed, uninterrupted = (
        torch.load(p[0], weights_only=True)["state"] for p in (outputs, reference)
    )
    assert resumed.keys() == uninterrupted.keys()
    for key in resumed:
        torch.testing.assert_close(resumed[key], uninterrupted[key], rtol=0, atol=1e-6)

    image, labels = beetle(np.random.default_rng(9))
    chunk = [Frame("t", image, labels), Frame("x", beetle(np.random.default_rng(10))[0])]
    table = StructureTable.from_config({"structures": STRUCTURES})
    predictions = {}
    for name, weights in (("base", ""), ("tuned", str(outputs[0]))):
        with pytest.warns(UserWarning, match="RANDOM"):
            engine = make_engine("sam2", {**SAM2_OPTIONS, "finetuned_weights": weights}, seed=0)
        predictions[name] = engine.propagate(chunk, table)[0]
        assert engine.provenance()["finetuned_weights"] == weights
        engine.close()
    assert predictions["base"].object_score != predictions["tuned"].object_score


@pytest.mark.realdata
def test_a_few_steps_on_real_beetles_lower_the_training_loss(tmp_path):
    dataset = DATA / "beetles-5part"
    if not dataset.is_dir():
        pytest.skip("../shared/data/beetles-5part is absent")
    names = sorted(p.stem for p in (dataset / "images").glob("*.png"))[:2]
    rows = ["specimen\tspecies\timage\tmask"]
    rows += [
        f"{n}\tb\t{dataset / 'images' / n}.png\t{dataset / 'masks' / n}.png" for n in names[:1]
    ]
    rows += [f"{n}\tb\t{dataset / 'images' / n}.png\t" for n in names[1:]]
    (tmp_path / "samples.tsv").write_text("\n".join(rows) + "\n")
    parts = {
        "head": (200, 0, 0),
        "pronotum": (0, 200, 0),
        "elytra": (0, 0, 200),
        "legs": (200, 200, 0),
        "antennae": (200, 0, 200),
    }
    structures = StructureTable.from_config(
        {"structures": [{"name": n, "rgb": list(c)} for n, c in parts.items()]}
    )
    data = training_set(read_sample_sheet(tmp_path / "samples.tsv"), "b")
    model, device, dtype = build_model(ModelSpec(**SAM2_OPTIONS))
    named = make_trainable(model, LoraOptions())
    templates = load_templates(data.templates, structures, SIZE)
    features = FeatureSource(model, device, dtype)
    before = mean_cycle_loss(model, features, templates, data.targets)
    options = FinetuneOptions(steps=3, lr=1e-4, grad_clip=1.0)
    rows = train(model, named, features, templates, data.targets, options, structures.names)
    after = mean_cycle_loss(model, features, templates, data.targets)
    features.close()
    assert len(rows) == 3 and all(np.isfinite(r["loss"]) for r in rows)
    assert after < 0.9 * before, (before, after)
