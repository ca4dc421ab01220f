"""effdl.data: digits, the shipped .npz, CIFAR-10's missing-directory error, synthetic data."""

import inspect
import textwrap

import numpy as np
import pytest
import torch

from effdl import data
from effdl.data import (
    CIFAR_FILES,
    CIFAR_MEAN,
    CIFAR_STD,
    CIFAR_URL,
    CIFARNotFoundError,
    cifar10_datasets,
    cifar10_transforms,
    digits_arrays,
    digits_datasets,
    export_digits_npz,
    load_data,
    load_digits_npz,
    synthetic_cifar,
)


@pytest.fixture(autouse=True, scope="module")
def one_cpu_thread():
    """Small tensors: one torch thread is as fast, and much faster on a busy shared machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def digits():
    return digits_datasets()


def test_digits_shapes_and_types(digits):
    train, test = digits
    x_train, y_train = train.tensors
    x_test, y_test = test.tensors
    assert x_train.shape == (1437, 3, 8, 8) and x_test.shape == (360, 3, 8, 8)
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.int64
    assert set(y_train.tolist()) == set(range(10)) == set(y_test.tolist())
    assert torch.equal(x_train[:, 0], x_train[:, 1]) and torch.equal(x_train[:, 0], x_train[:, 2])


def test_digits_normalized_with_training_statistics(digits):
    x_train = digits[0].tensors[0].double()
    assert abs(float(x_train.mean())) < 1e-6
    assert abs(float(x_train.std(unbiased=False)) - 1) < 1e-6
    # The scaling is (p / 16 - mean) / std: the raw pixel values 0..16 map to 17 levels.
    assert len(torch.unique(x_train)) <= 17


def test_digits_split_is_deterministic_and_stratified():
    a, b = digits_arrays(seed=0), digits_arrays(seed=0)
    for key in a:
        assert np.array_equal(a[key], b[key])
    c = digits_arrays(seed=1)
    assert not np.array_equal(a["x_test"], c["x_test"])
    counts_all = np.bincount(np.concatenate([a["y_train"], a["y_test"]]), minlength=10)
    counts_test = np.bincount(a["y_test"], minlength=10)
    assert len(a["y_train"]) + len(a["y_test"]) == counts_all.sum() == 1797
    assert np.all(np.abs(counts_test - counts_all * 360 / 1797) <= 1)
    assert a["x_train"].dtype == np.uint8 and a["x_train"].max() == 16


def test_digits_npz_round_trip(tmp_path, digits):
    path = export_digits_npz(tmp_path / "digits.npz")
    assert path.stat().st_size < 300_000
    with np.load(path, allow_pickle=False) as data:
        assert all(data[k].dtype == np.uint8 for k in data.files)
    train, test = load_digits_npz(path)
    for loaded, direct in zip((train, test), digits):
        for a, b in zip(loaded.tensors, direct.tensors):
            assert torch.equal(a, b)


def test_digits_npz_wrong_file(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(ValueError, match="x_train"):
        load_digits_npz(path)


def test_missing_cifar_dir_names_files_and_download(tmp_path):
    with pytest.raises(CIFARNotFoundError) as info:
        cifar10_datasets(tmp_path / "nowhere")
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    for name in CIFAR_FILES:
        assert name in message
    assert "cifar-10-batches-py" in message and CIFAR_URL in message
    assert "download=True" in message


def test_incomplete_cifar_dir_names_missing_files(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in CIFAR_FILES[:3]:
        (folder / name).write_bytes(b"")
    with pytest.raises(CIFARNotFoundError, match="lacks data_batch_4, data_batch_5, test_batch"):
        load_data(f"cifar10:{tmp_path}")


def test_damaged_cifar_files_are_reported(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in CIFAR_FILES:
        (folder / name).write_bytes(b"not a batch")
    with pytest.raises(CIFARNotFoundError, match="damaged"):
        cifar10_datasets(folder)  # the folder itself is accepted as well


def test_synthetic_cifar():
    a = synthetic_cifar(40, seed=3)
    b = synthetic_cifar(40, seed=3)
    x, y = a.tensors
    assert x.shape == (40, 3, 32, 32) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and torch.equal(torch.bincount(y), torch.full((10,), 4))
    assert torch.equal(x, b.tensors[0]) and torch.equal(y, b.tensors[1])
    other = synthetic_cifar(40, seed=3, sample_seed=4)
    assert not torch.equal(x, other.tensors[0])
    assert synthetic_cifar(20, image_size=8).tensors[0].shape == (20, 3, 8, 8)


def test_load_data_specs():
    train, test = load_data("synthetic:50", batch_size=16)
    x, y = next(iter(train))
    assert x.shape == (16, 3, 32, 32) and len(test.dataset) == 12
    first = [b[1].tolist() for b in load_data("synthetic:50", batch_size=16, seed=5)[0]]
    again = [b[1].tolist() for b in load_data("synthetic:50", batch_size=16, seed=5)[0]]
    assert first == again  # shuffling depends on the seed only
    train_ds, _ = load_data("synthetic:20", as_loaders=False)
    assert len(train_ds) == 20


@pytest.mark.parametrize(
    "spec", ["", "mnist", "cifar10", "cifar10:", "synthetic:abc", "synthetic:3"]
)
def test_load_data_bad_spec(spec):
    with pytest.raises(ValueError, match="spec"):
        load_data(spec)


def test_bundle_copies_are_self_contained(tmp_path, digits):
    """Bundles copy the STANDALONE functions by source: they run with torch and numpy only."""
    namespace = {"torch": torch, "np": np, "__name__": "bundle"}
    for name in data.STANDALONE:
        obj = getattr(data, name)
        if isinstance(obj, (str, tuple)):
            source = f"{name} = {obj!r}"
        else:
            source = textwrap.dedent(inspect.getsource(obj))
        exec(source, namespace)
    train, test = namespace["load_digits_npz"](export_digits_npz(tmp_path / "d.npz"))
    assert torch.equal(train.tensors[0], digits[0].tensors[0])
    loader, _ = namespace["make_loaders"](train, test, batch_size=32, seed=1)
    assert next(iter(loader))[0].shape == (32, 3, 8, 8)
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        namespace["cifar10_datasets"](str(tmp_path / "none"))
    assert torch.equal(namespace["synthetic_cifar"](20).tensors[0], synthetic_cifar(20).tensors[0])


def test_cifar_transforms_normalize_and_augment():
    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    train_tf, test_tf = cifar10_transforms(augment=True)
    x = test_tf(image)
    mean = torch.tensor(CIFAR_MEAN).view(3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(3, 1, 1)
    expected = (torch.from_numpy(pixels).permute(2, 0, 1).float() / 255 - mean) / std
    assert x.shape == (3, 32, 32)
    assert torch.allclose(x, expected, atol=1e-5)
    torch.manual_seed(0)
    augmented = [train_tf(image) for _ in range(4)]
    assert all(a.shape == (3, 32, 32) for a in augmented)
    assert any(not torch.allclose(a, x) for a in augmented)  # crops and flips change the image
