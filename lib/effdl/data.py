"""Data sets for assignment B: CIFAR-10 from disk, scikit-learn's digits, and a synthetic set.

- CIFAR-10 is read from a local directory through torchvision and is never downloaded unless
  asked for (``download=True``). A missing or incomplete directory raises
  `CIFARNotFoundError`, which says which files are expected and where to get them, before
  torchvision is imported: the digits need only numpy and torch.
- The digits (1,797 handwritten 8x8 images, 10 classes) are a small real data set that needs
  no network: the images are scaled to [0, 1], copied into 3 channels and normalized, so the
  same ResNet-20 runs on them. `export_digits_npz` writes them to a small ``.npz`` that
  assignment bundles ship, and `load_digits_npz` reads it back without scikit-learn.
- `synthetic_cifar` is a random, learnable CIFAR-shaped set for tests.

Images are float32 tensors of shape (3, H, W), labels int64 class indices in 0..9.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.utils.data

# Functions, classes and constants that use nothing but torch, numpy, the standard library
# (imported inside them) and each other: assignment bundles copy their source. torchvision is
# imported inside the CIFAR-10 functions only, after the data is found (so a bundle runs on its
# digits without it), on lines marked optional (so a bundle's requirements.txt lists it as
# optional).
STANDALONE = (
    "TORCHVISION_MISSING",
    "CIFAR_MEAN",
    "CIFAR_STD",
    "CIFAR_URL",
    "CIFAR_FOLDER",
    "CIFAR_FILES",
    "DIGITS_NPZ_KEYS",
    "CIFARNotFoundError",
    "cifar10_root",
    "cifar10_transforms",
    "cifar10_datasets",
    "prepare_digits",
    "load_digits_npz",
    "synthetic_cifar",
    "make_loader",
    "make_loaders",
)

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_FILES = (
    "data_batch_1",
    "data_batch_2",
    "data_batch_3",
    "data_batch_4",
    "data_batch_5",
    "test_batch",
    "batches.meta",
)
TORCHVISION_MISSING = (
    "reading CIFAR-10 needs torchvision, which is not installed: pip install torchvision "
    "(the bundled digits need only numpy and torch)"
)
DIGITS_TEST_SIZE = 360
DIGITS_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


class CIFARNotFoundError(FileNotFoundError):
    """The CIFAR-10 directory is missing or incomplete (nothing is downloaded implicitly)."""


def cifar10_root(root: str) -> str:
    """Check that ``root`` holds CIFAR-10's python files and return the directory to use.

    ``root`` (a str or path) is the directory that contains ``cifar-10-batches-py/``
    (torchvision's convention); the ``cifar-10-batches-py`` directory itself is accepted too.
    Raises `CIFARNotFoundError` naming the missing files and how to get them.
    """
    import os

    root = os.path.expanduser(os.fspath(root))
    inner = os.path.join(root, CIFAR_FOLDER)
    if os.path.basename(os.path.normpath(root)) == CIFAR_FOLDER and not os.path.exists(inner):
        root = os.path.dirname(os.path.normpath(root))
    folder = os.path.join(root, CIFAR_FOLDER)
    missing = [name for name in CIFAR_FILES if not os.path.isfile(os.path.join(folder, name))]
    if missing:
        where = "does not exist" if not os.path.isdir(folder) else f"lacks {', '.join(missing)}"
        raise CIFARNotFoundError(
            f"CIFAR-10 not found: {folder} {where}.\n"
            f"Expected the python version of CIFAR-10 in {folder}/: "
            f"{', '.join(CIFAR_FILES)}.\n"
            f"Get it with: curl -O {CIFAR_URL} && tar -xzf cifar-10-python.tar.gz -C {root}\n"
            f"or let torchvision fetch it by passing download=True (nothing is downloaded "
            f"unless you ask)."
        )
    return root


def cifar10_transforms(augment: bool = True) -> tuple:
    """The course's CIFAR-10 transforms: (train transform, test transform).

    Both convert a PIL image to a (3, 32, 32) float tensor normalized with ``CIFAR_MEAN`` and
    ``CIFAR_STD``; with ``augment`` the training one first takes a random 32x32 crop of the
    image padded by 4 pixels and flips it horizontally with probability 1/2. Needs torchvision.
    """
    try:
        from torchvision import transforms  # optional: only to read CIFAR-10
    except ImportError as exc:
        raise ImportError(TORCHVISION_MISSING) from exc

    normalize = [transforms.ToTensor(), transforms.Normalize(CIFAR_MEAN, CIFAR_STD)]
    train = normalize
    if augment:
        train = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()]
        train += normalize
    return transforms.Compose(train), transforms.Compose(normalize)


def cifar10_datasets(
    root: str, download: bool = False, augment: bool = True
) -> tuple[torch.utils.data.Dataset, torch.utils.data.Dataset]:
    """CIFAR-10's training (50,000) and test (10,000) sets from the directory ``root``.

    Nothing is downloaded unless ``download=True``; without it a missing or incomplete
    directory raises `CIFARNotFoundError` with the expected files and the download URL. That
    check comes first: torchvision, which reads the files, is imported only once they are there
    (or to download them), and its absence then raises an ImportError that says so.
    """
    import os

    root = os.path.expanduser(os.fspath(root)) if download else cifar10_root(root)
    try:
        from torchvision import datasets  # optional: only to read CIFAR-10
    except ImportError as exc:
        raise ImportError(TORCHVISION_MISSING) from exc
    train_tf, test_tf = cifar10_transforms(augment)
    try:
        train = datasets.CIFAR10(root, train=True, download=download, transform=train_tf)
        test = datasets.CIFAR10(root, train=False, download=download, transform=test_tf)
    except RuntimeError as exc:  # torchvision's checksum test failed
        raise CIFARNotFoundError(
            f"CIFAR-10 in {os.path.join(root, CIFAR_FOLDER)} is damaged ({exc}); "
            f"replace it with a fresh copy of {CIFAR_URL}"
        ) from exc
    return train, test


def _stratified_split(labels: np.ndarray, test_size: int, seed: int) -> tuple:
    """Indices (train, test) with every class in the test part in proportion to its size."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    share = counts * test_size / len(labels)
    per_class = np.floor(share).astype(int)
    # Hand the remaining test slots to the classes with the largest remainders.
    for c in np.argsort(-(share - per_class), kind="stable")[: test_size - per_class.sum()]:
        per_class[c] += 1
    train_idx, test_idx = [], []
    for c, k in zip(classes, per_class):
        idx = rng.permutation(np.flatnonzero(labels == c))
        test_idx.append(idx[:k])
        train_idx.append(idx[k:])
    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))


def digits_arrays(seed: int = 0, test_size: int = DIGITS_TEST_SIZE) -> dict[str, np.ndarray]:
    """scikit-learn's digits, split into a training and a test part (needs scikit-learn).

    Returns ``{"x_train", "y_train", "x_test", "y_test"}``: uint8 images of shape (N, 8, 8)
    with the raw pixel values 0..16, and uint8 labels 0..9. The split is stratified by class
    and depends only on ``seed`` (1,437 / 360 images by default).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.asarray(digits.images).astype(np.uint8)
    labels = np.asarray(digits.target).astype(np.uint8)
    train_idx, test_idx = _stratified_split(labels, test_size, seed)
    return {
        "x_train": images[train_idx],
        "y_train": labels[train_idx],
        "x_test": images[test_idx],
        "y_test": labels[test_idx],
    }


def prepare_digits(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> tuple[torch.utils.data.TensorDataset, torch.utils.data.TensorDataset]:
    """Turn raw digits (pixel values 0..16, shape (N, 8, 8)) into network-ready data sets.

    Pixels are scaled to [0, 1], normalized with the mean and standard deviation of the
    training pixels, and copied into 3 identical channels. Returns (train, test)
    TensorDatasets of (N, 3, 8, 8) float32 images and int64 labels.
    """
    train01 = np.asarray(x_train, dtype=np.float64) / 16.0
    test01 = np.asarray(x_test, dtype=np.float64) / 16.0
    mean, std = train01.mean(), train01.std()

    def to_tensor(images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(((images - mean) / std).astype(np.float32))
        return x.unsqueeze(1).repeat(1, 3, 1, 1)

    def labels(y: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(y).astype(np.int64))

    return (
        torch.utils.data.TensorDataset(to_tensor(train01), labels(y_train)),
        torch.utils.data.TensorDataset(to_tensor(test01), labels(y_test)),
    )


def digits_datasets(
    seed: int = 0,
) -> tuple[torch.utils.data.TensorDataset, torch.utils.data.TensorDataset]:
    """The digits as (train, test) TensorDatasets of (N, 3, 8, 8) images (needs scikit-learn)."""
    arrays = digits_arrays(seed)
    return prepare_digits(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"])


def export_digits_npz(path: str | Path, seed: int = 0) -> Path:
    """Write the digits split to a compressed ``.npz`` (uint8 arrays only, about 30 KB).

    `load_digits_npz` reads it back into exactly the tensors of `digits_datasets`, without
    scikit-learn. Returns the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = digits_arrays(seed)
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


def load_digits_npz(
    path: str,
) -> tuple[torch.utils.data.TensorDataset, torch.utils.data.TensorDataset]:
    """Read a digits file (such as the bundled ``digits.npz``): (train, test) TensorDatasets.

    The file holds uint8 arrays x_train, y_train, x_test and y_test (raw 8x8 images with pixel
    values 0..16, and labels 0..9). Images come back as (N, 3, 8, 8) float32, labels int64.
    No pickled objects are loaded.
    """
    with np.load(path, allow_pickle=False) as data:
        missing = [key for key in DIGITS_NPZ_KEYS if key not in data.files]
        if missing:
            raise ValueError(f"{path} is not a digits file: it lacks {', '.join(missing)}")
        arrays = {key: data[key] for key in DIGITS_NPZ_KEYS}
    return prepare_digits(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"])


def synthetic_cifar(
    n: int = 512, seed: int = 0, image_size: int = 32, sample_seed: int | None = None
) -> torch.utils.data.TensorDataset:
    """A random CIFAR-shaped data set for tests: (n, 3, S, S) float32 images, 10 classes.

    Each class has its own random pattern (drawn from ``seed``); an image is its class's
    pattern plus as much Gaussian noise (drawn from ``sample_seed``, default ``seed``), so a
    network learns the set within a few steps. Two sets with the same ``seed`` and different
    ``sample_seed`` are a training and a test set of the same task.
    """
    patterns = torch.randn(
        10, 3, image_size, image_size, generator=torch.Generator().manual_seed(seed)
    )
    g = torch.Generator().manual_seed(seed if sample_seed is None else sample_seed)
    labels = torch.randperm(n, generator=g) % 10
    images = patterns[labels] + torch.randn(n, 3, image_size, image_size, generator=g)
    return torch.utils.data.TensorDataset(images, labels)


def make_loader(
    dataset: torch.utils.data.Dataset,
    batch_size: int = 256,
    shuffle: bool = False,
    seed: int = 0,
    num_workers: int = 0,
) -> torch.utils.data.DataLoader:
    """A DataLoader whose shuffling order depends only on ``seed``."""
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=num_workers,
    )


def make_loaders(
    train: torch.utils.data.Dataset,
    test: torch.utils.data.Dataset,
    batch_size: int = 256,
    test_batch_size: int | None = None,
    seed: int = 0,
    num_workers: int = 0,
) -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader]:
    """(train loader, shuffled with ``seed``; test loader, in order)."""
    return (
        make_loader(train, batch_size, shuffle=True, seed=seed, num_workers=num_workers),
        make_loader(test, test_batch_size or batch_size, num_workers=num_workers),
    )


DATA_SPECS = "'digits', 'digits:FILE.npz', 'cifar10:DIR' or 'synthetic[:N]'"


def load_datasets(
    spec: str, seed: int = 0, download: bool = False
) -> tuple[torch.utils.data.Dataset, torch.utils.data.Dataset]:
    """(train, test) data sets named by ``spec``.

    ``spec`` is one of: ``digits`` (from scikit-learn), ``digits:FILE.npz`` (an exported
    digits file), ``cifar10:DIR`` (CIFAR-10 in DIR, see `cifar10_datasets`), ``synthetic`` or
    ``synthetic:N`` (N training images, N/4 test images, for tests).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"bad data spec {spec!r}: expected {DATA_SPECS}")
    kind, _, arg = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "digits":
        return load_digits_npz(arg) if arg else digits_datasets(seed)
    if kind == "cifar10":
        if not arg:
            raise ValueError("bad data spec 'cifar10': name the directory, as in cifar10:DIR")
        return cifar10_datasets(arg, download=download)
    if kind == "synthetic":
        try:
            n = int(arg) if arg else 512
        except ValueError:
            raise ValueError(f"bad data spec {spec!r}: N in synthetic:N is a number") from None
        if n < 10:
            raise ValueError(f"bad data spec {spec!r}: synthetic needs N >= 10")
        test = synthetic_cifar(max(n // 4, 10), seed, sample_seed=seed + 1_000_003)
        return synthetic_cifar(n, seed), test
    raise ValueError(f"bad data spec {spec!r}: expected {DATA_SPECS}")


def load_data(
    spec: str,
    batch_size: int = 256,
    seed: int = 0,
    as_loaders: bool = True,
    download: bool = False,
) -> tuple:
    """(train, test) for ``spec`` (see `load_datasets`): DataLoaders, or the data sets.

    The training loader is shuffled with ``seed``; both use ``batch_size`` and no workers.
    """
    train, test = load_datasets(spec, seed=seed, download=download)
    if not as_loaders:
        return train, test
    return make_loaders(train, test, batch_size=batch_size, seed=seed)
