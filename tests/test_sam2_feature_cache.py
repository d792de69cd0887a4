"""A persistent SAM 2 feature cache shared by several jobs (sam2 option ``feature_cache_dir``).

Jobs of one species (or its shards) share one cache directory: the second job must track from
features it reads back without encoding them, give the predictions a job without a cache
gives, and never read features that another model, image size, checkpoint, fine-tuning or
storage dtype wrote.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from test_sam2_engine import SIZE, TEST_OPTIONS, random_image, stripes, table  # noqa: E402

from traitrack.engines import make_engine  # noqa: E402
from traitrack.engines.base import Frame  # noqa: E402
from traitrack.engines.sam2.model import instantiate_model, positional_encodings  # noqa: E402

pytestmark = [pytest.mark.sam2, pytest.mark.filterwarnings("ignore:sam2 engine built with RANDOM")]

STRUCTURES = table(2)
TEMPLATE = Frame("tmpl", random_image(1, 80, 60), stripes(80, 60, 2))
X = Frame("x", random_image(2, 70, 64))
Y = Frame("y", random_image(3, 50, 90))


def engine(cache_dir=None, **options):
    settings = {**TEST_OPTIONS, **options}
    if cache_dir is not None:
        settings["feature_cache_dir"] = str(cache_dir)
    return make_engine("sam2", settings, seed=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_positional_encodings_come_from_the_model_alone(dtype):
    model = instantiate_model("tiny", SIZE, seed=0).eval()
    image = torch.randn(1, 3, SIZE, SIZE)
    with torch.inference_mode(), torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
        encoded = model.forward_image(image)["vision_pos_enc"]
    ours = positional_encodings(model, torch.device("cpu"), dtype)
    assert len(ours) == len(encoded) == model.num_feature_levels
    for computed, from_image in zip(ours, encoded):
        assert torch.equal(computed, from_image.float())


def test_two_jobs_share_a_cache_and_predict_as_one_without(tmp_path):
    first = engine(tmp_path)
    first.propagate([TEMPLATE, X], STRUCTURES)
    assert first.features.stats.encoded == 2
    first.close()

    second = engine(tmp_path)  # a new job: nothing in RAM, the template on disk
    shared = second.propagate([TEMPLATE, Y], STRUCTURES)
    assert second.features.stats.encoded == 1  # only y, which no job has seen
    assert second.features.stats.disk_hits == 1  # the template, read back
    second.close()

    alone = engine()
    reference = alone.propagate([TEMPLATE, Y], STRUCTURES)
    alone.close()
    assert len(shared) == len(reference) == 1
    np.testing.assert_array_equal(shared[0].labels, reference[0].labels)
    assert shared[0].confidence == reference[0].confidence
    assert shared[0].object_score == reference[0].object_score


def test_a_job_that_only_reads_the_cache_encodes_nothing(tmp_path):
    first = engine(tmp_path)
    expected = first.propagate([TEMPLATE, X], STRUCTURES)
    first.close()
    second = engine(tmp_path)
    again = second.propagate([TEMPLATE, X], STRUCTURES)
    assert second.features.stats.encoded == 0 and second.features.stats.disk_hits == 2
    np.testing.assert_array_equal(again[0].labels, expected[0].labels)
    second.close()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "sam2.1_hiera_tiny.pt"
    torch.save({"model": instantiate_model("tiny", 1024, seed=3).state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A cache directory the test model (tiny, 256, random seed 0, float32) has written."""
    directory = tmp_path_factory.mktemp("cache")
    writer = engine(directory)
    writer.propagate([TEMPLATE, X], STRUCTURES)
    writer.close()
    return directory


@pytest.mark.parametrize(
    "other",
    [
        pytest.param({"image_size": SIZE + 32}, id="image size"),
        pytest.param({"feature_dtype": "bfloat16"}, id="storage dtype"),
        pytest.param("checkpoint", id="checkpoint"),
        pytest.param("seed", id="other random weights"),
    ],
)
def test_features_of_another_model_are_never_read(written, other, checkpoint):
    tmp_path = written
    if other == "checkpoint":
        settings = {**TEST_OPTIONS, "checkpoint": str(checkpoint), "allow_random_weights": False}
        reader = make_engine("sam2", {**settings, "feature_cache_dir": str(tmp_path)}, seed=0)
    elif other == "seed":
        reader = make_engine("sam2", {**TEST_OPTIONS, "feature_cache_dir": str(tmp_path)}, seed=1)
    else:
        reader = engine(tmp_path, **other)
    reader.propagate([TEMPLATE, X], STRUCTURES)
    assert reader.features.stats.disk_hits == 0 and reader.features.stats.encoded == 2
    reader.close()


def test_model_size_and_fine_tuned_weights_name_the_cache_files(tmp_path):
    """Building a larger model costs minutes on a CPU: the tag that keys the files is checked."""
    tiny = engine(tmp_path)
    tags = {tiny._model_tag()}
    tiny.close()
    from traitrack.finetune.weights import LoraOptions, make_trainable, save_weights

    model = instantiate_model("tiny", SIZE, seed=0)
    named = make_trainable(model, LoraOptions())
    for tuning in (1.0, 2.0):
        with torch.no_grad():
            named[0][1].add_(tuning)
        path = tmp_path / f"tuned{tuning}.pt"
        save_weights(path, named, LoraOptions(), {"model_size": "tiny"}, steps=1)
        tuned = engine(tmp_path, finetuned_weights=str(path))
        tags.add(tuned._model_tag())
        tuned.close()
    assert len(tags) == 3  # the base model and two different tunings never share files
    small_tag = tiny._model_tag().replace("tiny", "small", 1)
    assert small_tag not in tags and tiny._model_tag().startswith("tiny-")
