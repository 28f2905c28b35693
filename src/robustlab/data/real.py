"""Real data sets: MNIST and Fashion-MNIST (gzip IDX), CIFAR-10 (binary version), and their views.

Files are read from `data_dir`, else from `$ROBUSTLAB_DATA`, else from the cache folder
`$XDG_CACHE_HOME/robustlab` (default `~/.cache/robustlab`); each holds one folder per data set
(`mnist/`, `fashion-mnist/`, `cifar-10-batches-bin/`). Missing MNIST files are downloaded from the
official mirrors into that folder. Every IDX file is verified against the sha256 of its
*decompressed* content shipped in `checksums.json` (gzip wrappers differ between copies, the IDX
bytes do not). Decoded arrays are cached per process, keyed on (folder, kind, split).

Views used by the papers: `binary_pair` (paper 002 and 004: MNIST 0 vs 1, 12665 train and 2115
test samples), `downsample` to d in {25, ..., 784} (paper 002, section 5), `unit_norm`.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import json
import logging
import math
import os
import struct
import zlib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Literal, overload
from urllib.request import urlopen

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from robustlab import _checks
from robustlab.data.dataset import Dataset

__all__ = [
    "ALLOWED_DIMS",
    "DOWNSAMPLING",
    "MIRRORS",
    "DataCorruptedError",
    "DataNotFoundError",
    "Downsampling",
    "binary_pair",
    "cache_dir",
    "data_root",
    "downsample",
    "load_cifar10",
    "load_mnist",
    "mnist_binary",
    "mnist_multiclass",
    "unit_norm",
]

logger = logging.getLogger(__name__)

Split = Literal["train", "test"]
MnistKind = Literal["mnist", "fashion-mnist"]
PathArg = str | os.PathLike[str] | None

SPLITS: tuple[str, ...] = ("train", "test")
MNIST_KINDS: tuple[str, ...] = ("mnist", "fashion-mnist")
ALLOWED_DIMS: tuple[int, ...] = tuple(k * k for k in range(5, 29))
Downsampling = Literal["area", "bilinear"]
DOWNSAMPLING: tuple[Downsampling, ...] = ("area", "bilinear")
"""Methods `downsample` accepts: area averaging, or bilinear without antialiasing."""
"""Dimensions `downsample` accepts: k x k images for k = 5..28 (paper 002 uses d in 25..784)."""

_SIDE = 28
_MNIST_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}
"""Official sources, tried in order; each file is `<mirror><name>.gz`."""
_DOWNLOAD_TIMEOUT_S = 60.0

_CIFAR_FOLDER = "cifar-10-batches-bin"
_CIFAR_FILES: dict[str, tuple[str, ...]] = {
    "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    "test": ("test_batch.bin",),
}
_CIFAR_PIXELS = 3 * 32 * 32
_CIFAR_RECORD = 1 + _CIFAR_PIXELS
_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"


class DataNotFoundError(FileNotFoundError):
    """A data file is neither present locally nor downloadable; the message says where to put it."""


class DataCorruptedError(ValueError):
    """A data file exists but is not what it should be (gzip, IDX header, size or checksum)."""


# --------------------------------------------------------------------------- folders


def cache_dir() -> Path:
    """The download cache: `$XDG_CACHE_HOME/robustlab`, default `~/.cache/robustlab`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "robustlab"


def data_root(data_dir: PathArg = None) -> Path:
    """The folder holding the data set folders: data_dir, else $ROBUSTLAB_DATA, else the cache."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("ROBUSTLAB_DATA")
    if env:
        return Path(env).expanduser()
    return cache_dir()


def _check_choice(what: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {list(allowed)}, got {value!r}")


def _locate(folder: Path, name: str) -> Path | None:
    """`name.gz` (as distributed) or the uncompressed `name` in folder, if present."""
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def _mnist_folder(root: Path, kind: str) -> Path:
    """root/kind, or root itself when it already holds that kind's files (data_dir=.../mnist)."""
    nested = root / kind
    if nested.is_dir():
        return nested
    names = [name for pair in _MNIST_FILES.values() for name in pair]
    if root.name == kind and any(_locate(root, name) for name in names):
        return root
    return nested


# --------------------------------------------------------------------------- IDX decoding


@functools.cache
def _checksums() -> dict[str, dict[str, str]]:
    text = resources.files("robustlab.data").joinpath("checksums.json").read_text("utf-8")
    table: dict[str, dict[str, str]] = json.loads(text)
    return table


def _gunzip(payload: bytes, source: str, name: str) -> bytes:
    try:
        return gzip.decompress(payload)
    except (OSError, EOFError, zlib.error) as err:
        raise DataCorruptedError(
            f"{source}: not a valid gzip file ({err}); expected the gzip-compressed IDX file "
            f"{name}.gz (delete it to download it again)"
        ) from err


def _decode_idx(raw: bytes, *, source: str, kind: str, name: str, ndim: int) -> np.ndarray:
    """Check the IDX header (magic, dims, size) and the sha256, and return the uint8 array."""
    magic = bytes([0, 0, 0x08, ndim])
    if raw[:4] != magic:
        raise DataCorruptedError(
            f"{source}: IDX magic 0x{raw[:4].hex()}, expected 0x{magic.hex()} "
            f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''}) for {name}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataCorruptedError(
            f"{source}: {len(raw)} bytes, shorter than the {header}-byte IDX header of {name}"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + math.prod(dims)
    if len(raw) != expected:
        shape = " x ".join(str(v) for v in dims)
        raise DataCorruptedError(
            f"{source}: {len(raw)} bytes (decompressed), expected {expected} = {header}-byte "
            f"header + {shape} bytes from its header; the file is truncated or padded"
        )
    digest = hashlib.sha256(raw).hexdigest()
    known = _checksums()[kind][name]
    if digest != known:
        raise DataCorruptedError(
            f"{source}: sha256 of the decompressed content is {digest}, expected {known} "
            f"(the official {kind} {name}); replace the file"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _download(folder: Path, kind: str, name: str, split: str, ndim: int) -> np.ndarray:
    """Fetch `name.gz` from the first mirror that serves verified bytes; save it into folder."""
    failures: list[str] = []
    for mirror in MIRRORS[kind]:
        url = f"{mirror}{name}.gz"
        logger.info("downloading %s", url)
        try:
            with urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response:
                payload: bytes = response.read()
            array = _decode_idx(
                _gunzip(payload, url, name), source=url, kind=kind, name=name, ndim=ndim
            )
        except (OSError, http.client.HTTPException, DataCorruptedError) as err:
            failures.append(f"{url}: {err}")
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{name}.gz"
        partial = folder / f".{name}.gz.part"
        partial.write_bytes(payload)
        os.replace(partial, target)
        logger.info("saved %s (sha256 of the content verified)", target)
        return array
    files = ", ".join(f"{n}.gz" for pair in _MNIST_FILES.values() for n in pair)
    raise DataNotFoundError(
        f"{kind} {split} split: {name} is not in {folder} and could not be downloaded "
        f"({'; '.join(failures)}). Put the gzip IDX files {files} in {folder}/ "
        f"(or set ROBUSTLAB_DATA, or pass data_dir=, to a folder that holds {kind}/ with them)."
    )


def _read_idx(folder: Path, kind: str, name: str, split: str, ndim: int) -> np.ndarray:
    path = _locate(folder, name)
    if path is None:
        return _download(folder, kind, name, split, ndim)
    payload = path.read_bytes()
    raw = _gunzip(payload, str(path), name) if path.suffix == ".gz" else payload
    return _decode_idx(raw, source=str(path), kind=kind, name=name, ndim=ndim)


@functools.lru_cache(maxsize=8)
def _mnist_arrays(folder: str, kind: str, split: str) -> tuple[Tensor, Tensor]:
    """uint8 images (n, 784) and int64 labels (n,), verified; cached on (folder, kind, split)."""
    images_name, labels_name = _MNIST_FILES[split]
    where = Path(folder)
    images = _read_idx(where, kind, images_name, split, ndim=3)
    labels = _read_idx(where, kind, labels_name, split, ndim=1)
    if images.shape[1:] != (_SIDE, _SIDE) or images.shape[0] != labels.shape[0]:
        raise DataCorruptedError(
            f"{where}: images {images.shape} and labels {labels.shape} do not match "
            f"(expected (n, 28, 28) and (n,))"
        )
    x = torch.from_numpy(images.reshape(images.shape[0], _SIDE * _SIDE).copy())
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def load_mnist(split: Split, *, kind: MnistKind = "mnist", data_dir: PathArg = None) -> Dataset:
    """MNIST or Fashion-MNIST: x (n, 784) float32 in [0, 1], y (n,) int64 in 0..9.

    n = 60000 (train) or 10000 (test). Reads `<root>/<kind>/` (see `data_root`); downloads the
    missing files from the official mirrors. Repeated loads in one process reuse the decoded
    arrays (the returned tensors are fresh copies).
    Raises ValueError for an unknown split or kind, DataCorruptedError for a bad file (named, with
    what was expected), DataNotFoundError when a file is missing and cannot be downloaded.
    """
    _check_choice("split", split, SPLITS)
    _check_choice("kind", kind, MNIST_KINDS)
    folder = _mnist_folder(data_root(data_dir), kind)
    pixels, labels = _mnist_arrays(str(folder.resolve()), kind, split)
    x = pixels.to(torch.float32).div_(255.0)
    return Dataset(x, labels.clone(), f"{kind}-{split}")


# --------------------------------------------------------------------------- CIFAR-10


@functools.lru_cache(maxsize=4)
def _cifar10_arrays(folder: str, split: str) -> tuple[Tensor, Tensor]:
    where = Path(folder)
    chunks: list[np.ndarray] = []
    for name in _CIFAR_FILES[split]:
        path = where / name
        if not path.is_file():
            files = ", ".join(n for names in _CIFAR_FILES.values() for n in names)
            raise DataNotFoundError(
                f"CIFAR-10 {split} split: {path} not found. Put the binary-version files {files} "
                f"in {where}/ (download {_CIFAR_URL} and extract it into {where.parent}/), "
                f"or set ROBUSTLAB_DATA, or pass data_dir=, to a folder holding {_CIFAR_FOLDER}/. "
                "The pickled python version is not read."
            )
        raw = path.read_bytes()
        if len(raw) == 0 or len(raw) % _CIFAR_RECORD:
            raise DataCorruptedError(
                f"{path}: {len(raw)} bytes, expected a positive multiple of {_CIFAR_RECORD} "
                f"(records of 1 label byte + {_CIFAR_PIXELS} pixel bytes); the file is truncated "
                "or not the CIFAR-10 binary version"
            )
        records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
        if records[:, 0].max() > 9:
            raise DataCorruptedError(
                f"{path}: label byte {int(records[:, 0].max())} found, expected labels 0..9"
            )
        chunks.append(records)
    records = np.concatenate(chunks)
    x = torch.from_numpy(records[:, 1:].copy())
    y = torch.from_numpy(records[:, 0].astype(np.int64))
    return x, y


def load_cifar10(split: Split, *, data_dir: PathArg = None) -> Dataset:
    """CIFAR-10, binary version: x (n, 3072) float32 in [0, 1] (channel-major R, G, B planes of
    32 x 32), y (n,) int64 in 0..9.

    Reads `<root>/cifar-10-batches-bin/` (data_batch_1..5.bin for train, test_batch.bin for test;
    10000 records of 3073 bytes each). Not downloaded automatically.
    Raises ValueError for an unknown split, DataNotFoundError for a missing file (saying where to
    put it), DataCorruptedError for a truncated file or a label byte above 9.
    """
    _check_choice("split", split, SPLITS)
    folder = data_root(data_dir) / _CIFAR_FOLDER
    pixels, labels = _cifar10_arrays(str(folder.resolve()), split)
    return Dataset(pixels.to(torch.float32).div_(255.0), labels.clone(), f"cifar10-{split}")


# --------------------------------------------------------------------------- views


def binary_pair(ds: Dataset, *, positive: int = 1, negative: int = 0) -> Dataset:
    """The samples of classes `positive` and `negative`, labelled y = +1 and -1 (float32).

    Paper 002 section 5 and paper 004 section 4: MNIST 0 vs 1 (positive=1, negative=0).
    Raises ValueError for float labels, equal classes, or a class absent from ds.
    """
    if not isinstance(ds, Dataset):
        raise TypeError(f"ds must be a robustlab.data.Dataset, got {type(ds).__name__}")
    _checks.integer("positive", positive, low=0)
    _checks.integer("negative", negative, low=0)
    if ds.y.is_floating_point():
        raise ValueError(f"binary_pair needs integer class labels, got y of dtype {ds.y.dtype}")
    if positive == negative:
        raise ValueError(f"positive and negative must differ, got both {positive}")
    present = sorted(int(c) for c in torch.unique(ds.y).tolist())
    for label in (positive, negative):
        if label not in present:
            raise ValueError(f"class {label} is not in {ds.name} (classes present: {present})")
    keep = (ds.y == positive) | (ds.y == negative)
    y = torch.where(ds.y[keep] == positive, 1.0, -1.0).to(torch.float32)
    return Dataset(ds.x[keep], y, f"{ds.name}-{positive}vs{negative}")


def downsample(x: Tensor, d: int, *, method: Downsampling = "area") -> Tensor:
    """28 x 28 images (..., 784) to k x k = d pixels (..., d), by area averaging or bilinearly.

    method="area": output pixel (i, j) is the mean of input rows floor(28 i / k) ..
    ceil(28 (i + 1) / k) - 1 and the same columns (torch adaptive average pooling, identical to
    interpolate(mode="area")); for k dividing 28 these are disjoint (28/k)^2 blocks.
    method="bilinear": bilinear interpolation at the k x k pixel centres without antialiasing
    (interpolate(mode="bilinear", align_corners=False, antialias=False)), as the public code of
    paper 002 resizes; each output pixel reads only the 2 x 2 input pixels around its centre.
    d = 784 returns x itself. Paper 002, section 5 (d from 25 to 784; the method is not stated).
    Raises ValueError unless d is in ALLOWED_DIMS, method is known and x is floating with last
    axis 784.
    """
    _checks.integer("d", d)
    _checks.tensor("x", x)
    if method not in DOWNSAMPLING:
        raise ValueError(f"method must be one of {', '.join(DOWNSAMPLING)}, got {method!r}")
    if d not in ALLOWED_DIMS:
        raise ValueError(
            f"d must be a perfect square k*k with 5 <= k <= 28, one of {list(ALLOWED_DIMS)}; "
            f"got {d}"
        )
    if x.ndim < 1 or x.shape[-1] != _SIDE * _SIDE:
        raise ValueError(f"x must be (..., 784) flattened 28 x 28 images, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"x must be floating (pixels in [0, 1]), got dtype {x.dtype}")
    if d == _SIDE * _SIDE:
        return x
    side = math.isqrt(d)
    images = x.reshape(-1, 1, _SIDE, _SIDE)
    if method == "bilinear":
        small = F.interpolate(
            images, size=(side, side), mode="bilinear", align_corners=False, antialias=False
        )
    else:
        small = F.adaptive_avg_pool2d(images, side)
    return small.reshape(*x.shape[:-1], d)


@overload
def unit_norm(data: Tensor) -> Tensor: ...


@overload
def unit_norm(data: Dataset) -> Dataset: ...


def unit_norm(data: Tensor | Dataset) -> Tensor | Dataset:
    """Each row scaled to Euclidean norm 1: x_i / ||x_i||; a Dataset gets its x scaled.

    x: (n, d). Raises ValueError when a row is zero (it has no direction), naming the rows.
    """
    if isinstance(data, Dataset):
        return Dataset(unit_norm(data.x), data.y, f"{data.name}-unit")
    _checks.tensor("data", data, floating=True)
    if data.ndim != 2:
        raise ValueError(f"unit_norm needs x of shape (n, d), got {tuple(data.shape)}")
    norms = data.norm(dim=1, keepdim=True)
    zero = (norms[:, 0] == 0).nonzero().flatten()
    if zero.numel():
        shown = zero[:10].tolist()
        more = f" and {zero.numel() - 10} more" if zero.numel() > 10 else ""
        raise ValueError(
            f"unit_norm: {zero.numel()} row(s) have norm 0 (rows {shown}{more}); "
            "they cannot be scaled to norm 1"
        )
    return data.div(norms)


def mnist_binary(
    split: Split,
    *,
    d: int = 784,
    positive: int = 1,
    negative: int = 0,
    unit_norm: bool = False,
    kind: MnistKind = "mnist",
    data_dir: PathArg = None,
    downsampling: Downsampling = "area",
) -> Dataset:
    """Two MNIST classes as y in {-1, +1} (float32), downsampled to d, optionally unit norm.

    The binary task of paper 002 (section 5, d in 25..784) and paper 004 (section 4): digits 1
    (+1) vs 0 (-1), 12665 train and 2115 test samples. `downsampling`: "area" or "bilinear"
    (see `downsample`). x: (n, d) float32. Raises as `load_mnist`,
    `binary_pair` and `downsample` do.
    """
    _checks.integer("d", d)
    _checks.flag("unit_norm", unit_norm)
    ds = binary_pair(
        load_mnist(split, kind=kind, data_dir=data_dir), positive=positive, negative=negative
    )
    x = downsample(ds.x, d, method=downsampling)
    name = f"{ds.name}-d{d}" + ("-bilinear" if downsampling == "bilinear" and d != 784 else "")
    if unit_norm:
        x = _unit_norm(x)
        name += "-unit"
    return Dataset(x, ds.y, name)


def mnist_multiclass(
    split: Split,
    *,
    d: int = 784,
    classes: Sequence[int] | None = None,
    unit_norm: bool = False,
    kind: MnistKind = "mnist",
    data_dir: PathArg = None,
) -> Dataset:
    """MNIST (or Fashion-MNIST) with K classes: x (n, d) float32, y (n,) int64 in 0..K-1.

    `classes` keeps those digits, relabelled by their position in the sequence (classes=[3, 8]
    gives 3 -> 0, 8 -> 1); None keeps all ten with their own labels. Raises ValueError for
    repeated or out-of-range classes, and as `load_mnist` and `downsample` do.
    """
    _checks.integer("d", d)
    _checks.flag("unit_norm", unit_norm)
    for c in classes or ():
        _checks.integer("classes entry", c)
    ds = load_mnist(split, kind=kind, data_dir=data_dir)
    x, y = ds.x, ds.y
    name = ds.name
    if classes is not None:
        chosen = [int(c) for c in classes]
        if not chosen or len(set(chosen)) != len(chosen) or not all(0 <= c <= 9 for c in chosen):
            raise ValueError(f"classes must be distinct digits in 0..9, got {list(classes)}")
        relabel = torch.full((10,), -1, dtype=torch.int64)
        relabel[torch.tensor(chosen)] = torch.arange(len(chosen))
        keep = relabel[y] >= 0
        x, y = x[keep], relabel[y[keep]]
        name += "-" + "".join(str(c) for c in chosen)
    x = downsample(x, d)
    name += f"-d{d}"
    if unit_norm:
        x = _unit_norm(x)
        name += "-unit"
    return Dataset(x, y, name)


_unit_norm = unit_norm
