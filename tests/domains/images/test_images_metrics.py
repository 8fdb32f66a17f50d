import numpy as np
import pytest
import torch

from multigen.domain import DomainError
from multigen.metrics import accuracy
from multigen_domains.images import get_domain
from multigen_domains.images.features import feature_network, features_and_probs
from multigen_domains.images.inception import InceptionV3, inception_outputs, load_inception
from multigen_domains.images.metrics import ImageSet

STEPS = 100  # a quick feature CNN; the default (more steps) is exercised by the slow test


@pytest.fixture(scope="module")
def dom():
    return get_domain()


@pytest.fixture(scope="module")
def opts(tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("cache"))
    return {"classifier_steps": STEPS, "cache_dir": cache, "kid_subsets": 10}


@pytest.fixture(scope="module")
def ref(dom):
    return dom.reference("digits:test")


def test_reference_parsing(dom):
    r = dom.reference("digits", n=100)
    assert isinstance(r, ImageSet) and r.images.shape == (100, 1, 16, 16)
    assert r.feature_name == "digitcnn" and r.train_images.shape[0] == 1438
    assert dom.reference("digits:test@32").images.shape[-1] == 32
    with pytest.raises(DomainError, match="neither a dataset"):
        dom.reference("digitz")


def test_reference_against_itself_is_perfect(dom, ref, opts):
    m = dom.evaluate(ref.images, ref, **opts)
    assert abs(m["fd_digitcnn"]) < 1e-6
    # the unbiased KID of a set against itself is slightly negative (its cross term keeps
    # the i == j pairs), but tiny next to the KID of noise
    noise = torch.randint(0, 256, ref.images.shape, dtype=torch.uint8)
    far = dom.evaluate(noise, ref, **opts)
    assert abs(m["kid_digitcnn"]) < 0.05 * far["kid_digitcnn"]
    assert m["precision_digitcnn"] == 1.0 and m["recall_digitcnn"] == 1.0
    assert m["is_digitcnn"] == pytest.approx(m["is_digitcnn_reference"])
    assert m["n_samples"] == m["n_reference"] == len(ref)


def test_noise_is_far_and_real_data_is_near(dom, ref, opts):
    train = dom.reference("digits:train", n=len(ref))
    near = dom.evaluate(train.images, ref, **opts)
    noise = torch.randint(
        0, 256, ref.images.shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    far = dom.evaluate(noise, ref, **opts)
    assert far["fd_digitcnn"] > 10 * near["fd_digitcnn"]
    assert far["kid_digitcnn"] > 10 * max(near["kid_digitcnn"], 1e-4)
    # noise features collapse to one small cloud: recall (coverage) exposes it; precision
    # alone need not, since the cloud may sit inside the digits' k-NN balls
    assert far["recall_digitcnn"] < 0.1 < 0.8 < near["recall_digitcnn"]
    assert near["precision_digitcnn"] > 0.8
    assert near["is_digitcnn"] > far["is_digitcnn"] + 1  # real digits: confident, balanced


def test_samples_are_conformed_to_the_reference(dom, ref, opts):
    rgb32 = ref.images.repeat(1, 3, 1, 1).repeat_interleave(2, 2).repeat_interleave(2, 3)
    m = dom.evaluate(rgb32, ref, **opts)  # 3x32x32 -> 1x16x16 before scoring
    assert (
        m["fd_digitcnn"]
        < 0.05 * dom.evaluate(torch.zeros_like(ref.images), ref, **opts)["fd_digitcnn"]
    )


def test_feature_network_is_cached_and_reproducible(ref, opts, tmp_path):
    a = feature_network("digitcnn", ref.images, ref.labels, 10, steps=20, cache_dir=str(tmp_path))
    files = list((tmp_path / "classifiers").glob("*.safetensors"))
    assert len(files) == 1 and "digitcnn" in files[0].name
    from multigen_domains.images import features

    features._MEMO.clear()  # force a reload from the file
    b = feature_network("digitcnn", ref.images, ref.labels, 10, steps=20, cache_dir=str(tmp_path))
    c_dir = tmp_path / "fresh"
    features._MEMO.clear()
    c = feature_network("digitcnn", ref.images, ref.labels, 10, steps=20, cache_dir=str(c_dir))
    for p, q, r in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(p, q) and torch.equal(p, r)  # retraining gives identical weights
    feats, probs = features_and_probs(a, ref.images[:50])
    x = ref.images[:50].float() / 127.5 - 1
    with torch.no_grad():
        assert torch.allclose(probs, torch.softmax(a(x).double(), 1), atol=1e-6)
        assert torch.allclose(feats, (a.body(x) / a.feature_scale).double())
    assert feats.square().mean().sqrt() == pytest.approx(1.0, rel=0.3)  # RMS-normalised


@pytest.mark.slow
def test_default_feature_network_classifies_held_out_digits(dom, tmp_path):
    train, test = dom.load_dataset("digits", split="train"), dom.load_dataset("digits", "test")
    net = feature_network("digitcnn", train.images, train.labels, 10, cache_dir=str(tmp_path))
    assert accuracy(net(test.images.float() / 127.5 - 1), test.labels) > 0.95


def test_unlabelled_reference_and_bad_options(dom, tmp_path, write_image, opts, ref):
    for i in range(3):
        write_image(tmp_path / "u" / f"{i}.png", np.full((16, 16), 40 * i))
    unlabelled = dom.reference(str(tmp_path / "u"))
    assert unlabelled.labels is None and unlabelled.images.shape == (3, 1, 16, 16)
    with pytest.raises(DomainError, match="no class labels"):
        dom.evaluate(unlabelled.images, unlabelled, **opts)
    with pytest.raises(DomainError, match="unknown images evaluation option.*'kk'.*valid: .*k"):
        dom.evaluate(ref.images, ref, kk=3)


def test_folder_reference_trains_refcnn(dom, tmp_path, opts):
    root = dom.datasets["digits"].prepare(tmp_path / "png")
    r = dom.reference(str(root / "test"), n=120)
    assert r.feature_name == "refcnn" and len(r) == 120 and r.train_images.shape[0] == 359
    m = dom.evaluate(r.images, r, **opts)
    assert abs(m["fd_refcnn"]) < 1e-4 and m["precision_refcnn"] == 1.0


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    """A randomly initialised Inception-v3 saved the way real weights are shipped."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = InceptionV3(num_classes=1008)
    for mod in model.modules():  # default init fades the signal over 90 layers; He init keeps it
        if isinstance(mod, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
    path = tmp_path_factory.mktemp("inception") / "inc.safetensors"
    save_file({k: v.half() for k, v in model.state_dict().items()}, str(path))  # half the size
    return path


def test_inception_loading_path_and_features(inception_file, ref):
    loaded = load_inception(inception_file)
    assert loaded.fid_variant  # 1008 classes = the TF FID graph (max pool in Mixed_7c)
    assert loaded.Mixed_7c.pool == "max" and loaded.Mixed_7b.pool == "avg_tf"
    # 75 px (the smallest Inception input) keeps the test fast; FID proper uses 299
    feats, probs = inception_outputs(loaded, ref.images[:4], size=75)
    assert feats.shape == (4, 2048) and probs.shape == (4, 1008)
    assert torch.isfinite(feats).all() and feats.std(0).mean() > 0  # images differ in features
    assert torch.allclose(probs.sum(1), torch.ones(4, dtype=torch.float64))
    with pytest.raises(DomainError, match=">= 75"):
        inception_outputs(loaded, ref.images[:1], size=32)


@pytest.mark.slow  # two 2048-d matrix square roots
def test_inception_fid_via_evaluate(dom, ref, inception_file, opts):
    ref6 = ImageSet(ref.images[:6])
    inc = {"inception_weights": str(inception_file), "inception_size": 75}
    m = dom.evaluate(ref6.images, ref6, **inc, **opts)
    assert "kid_inception" in m and "is_inception" in m
    noise = torch.randint(0, 256, (6, 1, 16, 16), dtype=torch.uint8)
    far = dom.evaluate(noise, ref6, **inc, **opts)
    assert far["fid_inception"] > 0
    assert abs(m["fid_inception"]) < 1e-6 * far["fid_inception"]


def test_inception_torch_file_and_mismatch(tmp_path):
    model = InceptionV3(num_classes=1000)
    torch.save({"state_dict": model.state_dict()}, tmp_path / "tv.pth")
    assert not load_inception(tmp_path / "tv.pth").fid_variant  # torchvision layout
    torch.save(
        {"fc.weight": torch.zeros(1008, 2048), "conv.weight": torch.zeros(3)}, tmp_path / "m.pth"
    )
    with pytest.raises(DomainError, match="m.pth does not match Inception-v3.*missing"):
        load_inception(tmp_path / "m.pth")
    torch.save({"layer.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    with pytest.raises(DomainError, match="other.pth is not an Inception-v3"):
        load_inception(tmp_path / "other.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(DomainError, match="cannot read Inception weights"):
        load_inception(tmp_path / "junk.pth")
    with pytest.raises(DomainError, match="not found"):
        load_inception(tmp_path / "absent.pth")


def test_digits_feature_network_ships_with_the_package(ref, tmp_path):
    """fd_digitcnn & co. score with the shipped digit CNN: nothing is trained or cached."""
    from safetensors.torch import load_file

    from multigen_domains.images import features

    features._MEMO.clear()
    net = feature_network("digitcnn", ref.train_images, ref.train_labels, 10, cache_dir=tmp_path)
    assert not (tmp_path / "classifiers").exists()
    (shipped,) = features.SHIPPED.glob("images-digitcnn-*-s400-r0.safetensors")
    for k, v in load_file(shipped).items():
        assert torch.equal(net.state_dict()[k], v), k
