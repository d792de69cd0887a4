"""The sam2 engine on a tiny SAM 2.1 with random weights (image size 256) on the CPU.

Random weights make the masks meaningless, so these tests check what does not depend on
the weights: shapes, order, determinism, the exact letterbox round trip of conditioning
masks, what the memory holds, that the feature cache encodes each image once, and the
checkpoint and random-weight guards.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from traitrack.engines import make_engine  # noqa: E402
from traitrack.engines.base import Frame  # noqa: E402
from traitrack.engines.sam2.checkpoint import CheckpointError, load_checkpoint_strict  # noqa: E402
from traitrack.engines.sam2.download import download_and_verify  # noqa: E402
from traitrack.engines.sam2.engine import Sam2Options  # noqa: E402
from traitrack.engines.sam2.model import RandomWeightsRefused, instantiate_model  # noqa: E402
from traitrack.letterbox import (  # noqa: E402
    fit_letterbox,
    labels_from_logits,
    letterbox_image,
    letterbox_mask,
    unletterbox_logits,
)
from traitrack.structures import Structure, StructureTable  # noqa: E402

pytestmark = pytest.mark.sam2

SIZE = 256
TEST_OPTIONS = {
    "model_size": "tiny",
    "image_size": SIZE,
    "allow_random_weights": True,
    "device": "cpu",
}


def table(count: int) -> StructureTable:
    return StructureTable(tuple(Structure(f"part{i}", i + 1, (255, 0, 0)) for i in range(count)))


def random_image(seed: int, height: int, width: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def stripes(height: int, width: int, count: int) -> np.ndarray:
    """A label map with ``count`` structures of odd shapes, touching each other."""
    labels = np.zeros((height, width), np.uint8)
    rows = np.linspace(0, height, count + 2).astype(int)
    for label in range(1, count + 1):
        labels[rows[label - 1] + 1 : rows[label] + 1, width // 7 : width - width // 5] = label
    labels[height // 3 : height // 3 + 3, : width // 2] = count  # a thin bar across others
    labels[-1, -1] = 1  # a single corner pixel
    return labels


@pytest.fixture(scope="module")
def engine():
    with pytest.warns(UserWarning, match="RANDOM weights"):
        built = make_engine("sam2", {**TEST_OPTIONS, "memory_frames": 2}, seed=0)
    yield built
    built.close()


@pytest.fixture(scope="module")
def chunk():
    structures = table(3)
    frames = [
        Frame("tmpl", random_image(1, 90, 60), stripes(90, 60, 3)),
        Frame("a", random_image(2, 70, 70)),
        Frame("b", random_image(3, 40, 110)),
        Frame("c", random_image(4, 300, 200)),
    ]
    return frames, structures


def track_step_spy(engine, monkeypatch) -> list[dict]:
    """Record, for every track_step call, the frame and which memories it could see."""
    calls = []
    original = engine.model.track_step

    def spy(*args, **kwargs):
        memory = kwargs["output_dict"]
        calls.append(
            {
                "frame": kwargs["frame_idx"],
                "conditioning": kwargs["mask_inputs"] is not None,
                "cond_memory": sorted(memory["cond_frame_outputs"]),
                "other_memory": sorted(memory["non_cond_frame_outputs"]),
            }
        )
        return original(*args, **kwargs)

    monkeypatch.setattr(engine.model, "track_step", spy)
    return calls


# -- geometry (no model) ---------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(200, 37), (45, 250), (101, 77), (256, 256), (1, 9)])
def test_letterbox_round_trip_is_exact_for_frames_up_to_the_model_size(shape):
    labels = (
        stripes(*shape, 2) if min(shape) > 5 else (np.arange(shape[1])[None] % 3).astype(np.uint8)
    )
    box = fit_letterbox(*shape, SIZE)
    assert max(box.inner_height, box.inner_width) == SIZE
    square = letterbox_mask(labels, box)
    assert square.shape == (SIZE, SIZE)
    # SAM 2's mask-as-output: +10 inside, -10 outside, per structure
    logits = torch.stack([torch.from_numpy((square == k) * 20.0 - 10.0) for k in (1, 2)]).float()
    back = labels_from_logits(unletterbox_logits(logits, box))
    np.testing.assert_array_equal(back, labels)


def test_letterbox_round_trip_is_exact_for_random_shapes_and_noise_labels():
    rng = np.random.default_rng(7)
    for _ in range(40):
        height, width = (int(v) for v in rng.integers(1, SIZE + 1, 2))
        labels = rng.integers(0, 4, (height, width)).astype(np.uint8)  # every pixel a boundary
        box = fit_letterbox(height, width, SIZE)
        square = letterbox_mask(labels, box)
        logits = torch.stack(
            [torch.from_numpy((square == k) * 20.0 - 10.0) for k in (1, 2, 3)]
        ).float()
        np.testing.assert_array_equal(labels_from_logits(unletterbox_logits(logits, box)), labels)


def test_letterbox_keeps_aspect_and_centres():
    box = fit_letterbox(100, 50, SIZE)
    assert (box.inner_height, box.inner_width, box.top, box.left) == (256, 128, 0, 64)
    image = letterbox_image(random_image(0, 100, 50), box)
    assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
    assert (image[:, :64] == image[0, 0]).all()  # padding is one colour


def test_letterbox_of_a_larger_frame_is_close():
    yy, xx = np.mgrid[:700, :500]
    disk = (((yy - 350) ** 2 + (xx - 240) ** 2) < 180**2).astype(np.uint8)
    box = fit_letterbox(700, 500, SIZE)
    square = letterbox_mask(disk, box)
    logits = torch.from_numpy((square == 1) * 20.0 - 10.0).float()[None]
    back = labels_from_logits(unletterbox_logits(logits, box))
    iou = (back & disk).sum() / (back | disk).sum()
    assert iou > 0.99


def test_overlaps_go_to_the_highest_logit():
    logits = torch.tensor([[[5.0, -1.0, 2.0]], [[3.0, -2.0, 4.0]]])
    np.testing.assert_array_equal(labels_from_logits(logits), [[1, 0, 2]])


# -- the engine ------------------------------------------------------------------------------
def test_predictions_shapes_order_and_object_ids(engine, chunk):
    frames, structures = chunk
    predictions = engine.propagate(frames, structures)
    assert [p.specimen for p in predictions] == ["a", "b", "c"]
    for frame, prediction in zip(frames[1:], predictions):
        assert prediction.labels.shape == frame.image.shape[:2]
        assert prediction.labels.dtype == np.uint8
        assert set(np.unique(prediction.labels)) <= {0, 1, 2, 3}
        assert list(prediction.object_score) == structures.names
        assert list(prediction.confidence) == structures.names
        assert prediction.templates == ("tmpl",)
        for name, value in prediction.confidence.items():
            present = (prediction.labels == structures.by_name(name).label).any()
            assert (0.5 <= value <= 1.0) if present else np.isnan(value)
    assert engine.random_weights is True
    assert engine.provenance()["random_weights"] is True


def test_deterministic_and_independent_of_earlier_calls(engine, chunk):
    frames, structures = chunk
    first = engine.propagate(frames, structures)
    engine.propagate([frames[0], frames[3], frames[2]], structures)  # something else in between
    second = engine.propagate(frames, structures)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.labels, b.labels)
        assert a.object_score == b.object_score


def test_conditioning_masks_come_back_exactly_through_sam2(engine):
    structures = table(3)
    shapes = {"tall": (230, 41), "wide": (33, 256), "odd": (97, 151)}
    templates = [
        Frame(name, random_image(i, *shape), stripes(*shape, 3))
        for i, (name, shape) in enumerate(shapes.items())
    ]
    outputs = engine.track_chunk(templates + [Frame("t", random_image(9, 50, 50))], structures)
    returned = {frame.specimen: prediction for frame, prediction in outputs}
    for template in templates:
        np.testing.assert_array_equal(returned[template.specimen].labels, template.labels)


def test_a_chunk_with_two_templates_conditions_on_both(engine, chunk, monkeypatch):
    frames, structures = chunk
    second = Frame("tmpl2", random_image(5, 80, 80), stripes(80, 80, 3)[::-1].copy())
    calls = track_step_spy(engine, monkeypatch)
    both = engine.propagate([frames[0], second, frames[1]], structures)
    target_call = [c for c in calls if not c["conditioning"]]
    assert [c["cond_memory"] for c in target_call] == [[0, 1]]
    assert sum(c["conditioning"] for c in calls) == 2
    monkeypatch.undo()
    only_first = engine.propagate([frames[0], frames[1]], structures)
    assert both[0].templates == ("tmpl", "tmpl2")
    assert (
        not np.array_equal(both[0].labels, only_first[0].labels)
        or both[0].object_score != only_first[0].object_score
    )


def test_qc_pass_starts_from_empty_memory_and_encodes_nothing(engine, chunk, monkeypatch):
    frames, structures = chunk
    forward = engine.propagate(frames, structures)
    encoded = engine.features.stats.encoded
    calls = track_step_spy(engine, monkeypatch)
    backward_chunk = [
        Frame("a", frames[1].image, labels=forward[0].labels),
        Frame("tmpl", frames[0].image),
    ]
    backward = engine.propagate(backward_chunk, structures)
    assert engine.features.stats.encoded == encoded  # cached features reused
    assert calls[0] == {"frame": 0, "conditioning": True, "cond_memory": [], "other_memory": []}
    assert calls[1]["cond_memory"] == [0] and calls[1]["other_memory"] == []
    monkeypatch.undo()
    with pytest.warns(UserWarning):
        fresh = make_engine("sam2", {**TEST_OPTIONS, "memory_frames": 2}, seed=0)
    np.testing.assert_array_equal(
        fresh.propagate(backward_chunk, structures)[0].labels, backward[0].labels
    )
    fresh.close()


def test_shared_first_self_attention_is_sam2s_own_result(engine):
    attention = engine.model.memory_attention
    generator = torch.Generator().manual_seed(0)
    hw, objects, memory_tokens = (SIZE // 16) ** 2, 3, 2 * (SIZE // 16) ** 2 + 4
    image = torch.randn(hw, 1, 256, generator=generator).expand(-1, objects, -1)
    image_pos = torch.randn(hw, 1, 256, generator=generator).expand(-1, objects, -1)
    memory = torch.randn(memory_tokens, objects, 64, generator=generator)
    memory_pos = torch.randn(memory_tokens, objects, 64, generator=generator)
    with torch.inference_mode():
        shared = attention(
            curr=[image],
            curr_pos=[image_pos],
            memory=memory,
            memory_pos=memory_pos,
            num_obj_ptr_tokens=4,
        )
        own = type(attention).forward(attention, [image], memory, [image_pos], memory_pos, 4)
    assert shared.shape == own.shape == (hw, objects, 256)
    torch.testing.assert_close(shared, own, rtol=0, atol=1e-6)


def test_memory_bank_and_feature_cache_do_not_grow_with_frames(chunk, monkeypatch):
    frames, structures = chunk
    with pytest.warns(UserWarning):
        small = make_engine(
            "sam2", {**TEST_OPTIONS, "memory_frames": 2, "features_in_memory": 3}, seed=0
        )
    targets = [Frame(f"t{i}", random_image(20 + i, 48, 64)) for i in range(7)]
    calls = track_step_spy(small, monkeypatch)
    small.propagate([frames[0]] + targets, structures)
    seen = [len(c["other_memory"]) for c in calls if not c["conditioning"]]
    assert seen == [0, 1, 2, 2, 2, 2, 2]
    assert len(small.features) == 3 and small.features.stats.spilled == 5
    small.propagate([frames[0]] + targets, structures)  # everything comes back from RAM or disk
    assert small.features.stats.encoded == 8
    small.close()


def test_describe_images_pools_and_feeds_the_cache(engine):
    images = [random_image(40, 64, 100), random_image(41, 120, 30)]
    before = engine.features.stats.encoded
    descriptors = engine.describe_images(images, names=["d0", "d1"])
    assert descriptors.shape == (2, 256) and descriptors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(descriptors, axis=1), 1.0, rtol=1e-5)
    engine.propagate(
        [Frame("d0", images[0], np.ones((64, 100), np.uint8)), Frame("d1", images[1])], table(1)
    )
    assert engine.features.stats.encoded == before + 2


def test_bad_frames_are_refused_with_names(engine):
    with pytest.raises(ValueError, match="'gray'"):
        engine.propagate(
            [Frame("gray", np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.uint8))], table(1)
        )
    with pytest.raises(ValueError, match="exceeds"):
        engine.propagate(
            [Frame("x", random_image(0, 10, 10), np.full((10, 10), 3, np.uint8))], table(2)
        )


# -- weights and checkpoints -----------------------------------------------------------------
def test_a_real_config_refuses_random_weights():
    with pytest.raises(RandomWeightsRefused, match="checkpoint"):
        make_engine("sam2", {"model_size": "tiny", "image_size": SIZE})
    assert issubclass(RandomWeightsRefused, ValueError)
    assert Sam2Options().allow_random_weights is False


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="download_checkpoint"):
        make_engine(
            "sam2",
            {"model_size": "tiny", "image_size": SIZE, "checkpoint": str(tmp_path / "no.pt")},
        )


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "sam2.1_hiera_tiny.pt"
    torch.save({"model": instantiate_model("tiny", 1024, seed=3).state_dict()}, path)
    return path


def test_checkpoint_loads_strictly_and_makes_real_weights(tiny_checkpoint):
    engine = make_engine(
        "sam2", {"model_size": "tiny", "image_size": SIZE, "checkpoint": str(tiny_checkpoint)}
    )
    assert engine.random_weights is False
    reference = instantiate_model("tiny", 1024, seed=3).state_dict()
    for key, value in engine.model.state_dict().items():
        assert torch.equal(value, reference[key]), key
    engine.close()


def test_broken_or_foreign_checkpoints_are_refused_and_not_left_behind(tiny_checkpoint, tmp_path):
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(tiny_checkpoint.read_bytes()[: tiny_checkpoint.stat().st_size // 2])
    model = instantiate_model("tiny", SIZE)
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint_strict(model, truncated)
    with pytest.raises(CheckpointError, match="model_size"):
        load_checkpoint_strict(instantiate_model("small", SIZE), tiny_checkpoint)

    dest = tmp_path / "checkpoints" / "sam2.1_hiera_tiny.pt"
    with pytest.raises(CheckpointError):
        download_and_verify(truncated.as_uri(), dest, "tiny")
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    download_and_verify(tiny_checkpoint.as_uri(), dest, "tiny")
    assert dest.stat().st_size == tiny_checkpoint.stat().st_size
    assert list(dest.parent.iterdir()) == [dest]


def test_vos_optimized_builds_sams_compiled_predictor_with_the_same_outputs(
    engine, chunk, monkeypatch
):
    """Option vos_optimized: sam2's SAM2VideoPredictorVOS, every part compiled, same masks.

    torch.compile is recorded and left out (compiling with max-autotune takes minutes on a
    CPU): what is checked is which forwards would be compiled, including our shared
    self-attention that replaces sam2's compiled memory attention, and that the VOS class
    computes what the plain predictor computes.
    """
    from sam2.sam2_video_predictor import SAM2VideoPredictorVOS

    compiled = []

    def record(function, **settings):
        compiled.append((getattr(function, "__qualname__", repr(function)), settings["mode"]))
        return function

    monkeypatch.setattr(torch, "compile", record)
    frames, structures = chunk
    with pytest.warns(UserWarning, match="RANDOM weights"):
        optimized = make_engine(
            "sam2", {**TEST_OPTIONS, "memory_frames": 2, "vos_optimized": True}, seed=0
        )
    assert type(optimized.model) is SAM2VideoPredictorVOS
    names = [name for name, _ in compiled]
    for part in ("ImageEncoder.forward", "MemoryEncoder.forward", "PromptEncoder.forward"):
        assert part in names
    assert "MaskDecoder.forward" in names
    # sam2 compiles MemoryAttention.forward; our shared first self-attention replaces it and is
    # compiled in its turn
    assert names[-1] == "share_image_self_attention.<locals>.forward"
    assert {mode for _, mode in compiled} == {"max-autotune"}
    ours = optimized.propagate(frames, structures)
    plain = engine.propagate(frames, structures)
    for a, b in zip(ours, plain):
        np.testing.assert_array_equal(a.labels, b.labels)
        assert a.object_score == b.object_score
    optimized.close()
