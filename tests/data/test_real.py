"""Real-data loaders: MNIST from the local copy, integrity errors, downloads, CIFAR-10 binary."""

from __future__ import annotations

import gzip
import io
import itertools
import math
import re
import shutil
import urllib.error
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from robustlab.data import (
    ALLOWED_DIMS,
    DataCorruptedError,
    DataNotFoundError,
    Dataset,
    binary_pair,
    downsample,
    load_cifar10,
    load_mnist,
    mnist_binary,
    mnist_multiclass,
    real,
    unit_norm,
)

LABELS = "t10k-labels-idx1-ubyte"
IMAGES = "t10k-images-idx3-ubyte"


def _offline(url: str, timeout: float = 0.0) -> io.BytesIO:
    raise urllib.error.URLError(f"network disabled in tests ({url})")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches the network: downloads see an offline urlopen unless a test serves bytes."""
    monkeypatch.setattr(real, "urlopen", _offline)


@pytest.fixture(scope="module")
def mnist_train(data_dir: Path) -> Dataset:
    return load_mnist("train", data_dir=data_dir)


@pytest.fixture(scope="module")
def mnist_test(data_dir: Path) -> Dataset:
    return load_mnist("test", data_dir=data_dir)


def _content(data_dir: Path, name: str, kind: str = "mnist") -> bytes:
    return gzip.decompress((data_dir / kind / f"{name}.gz").read_bytes())


def _copy_test_split(data_dir: Path, root: Path, labels: bytes | None = None) -> Path:
    """root/mnist with the real test images and the given (possibly broken) labels file."""
    folder = root / "mnist"
    folder.mkdir(parents=True)
    shutil.copy(data_dir / "mnist" / f"{IMAGES}.gz", folder / f"{IMAGES}.gz")
    if labels is not None:
        (folder / f"{LABELS}.gz").write_bytes(labels)
    return folder


# --------------------------------------------------------------------------- MNIST from disk


def test_mnist_shapes_range_and_labels(mnist_train: Dataset, mnist_test: Dataset) -> None:
    for ds, n in ((mnist_train, 60_000), (mnist_test, 10_000)):
        assert ds.x.shape == (n, 784) and ds.x.dtype == torch.float32
        assert ds.y.shape == (n,) and ds.y.dtype == torch.int64
        assert float(ds.x.min()) == 0.0 and float(ds.x.max()) == 1.0
        assert set(ds.y.unique().tolist()) == set(range(10))
    assert mnist_train.name == "mnist-train"
    # Canonical class counts of MNIST.
    assert torch.bincount(mnist_train.y).tolist()[:2] == [5923, 6742]
    assert torch.bincount(mnist_test.y).tolist()[:2] == [980, 1135]


def test_mnist_pixels_are_the_idx_bytes(data_dir: Path, mnist_test: Dataset) -> None:
    raw = _content(data_dir, IMAGES)
    first = torch.tensor(list(raw[16 : 16 + 784]), dtype=torch.float32) / 255
    assert torch.equal(mnist_test.x[0], first)
    assert int(mnist_test.y[0]) == _content(data_dir, LABELS)[8]  # 7, the famous first test digit


def test_repeated_loads_are_cached_but_independent(data_dir: Path, mnist_test: Dataset) -> None:
    again = load_mnist("test", data_dir=data_dir)
    assert torch.equal(again.x, mnist_test.x) and torch.equal(again.y, mnist_test.y)
    again.x.zero_()
    again.y.zero_()
    third = load_mnist("test", data_dir=data_dir)
    assert torch.equal(third.x, mnist_test.x) and torch.equal(third.y, mnist_test.y)
    info = real._mnist_arrays.cache_info()
    assert info.hits >= 2


def test_env_variable_and_kind_folder(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBUSTLAB_DATA", str(data_dir))
    assert load_mnist("test").n == 10_000
    assert load_mnist("test", data_dir=data_dir / "mnist").n == 10_000  # the mnist folder itself


def test_fashion_mnist(data_dir: Path) -> None:
    if not (data_dir / "fashion-mnist").is_dir():
        pytest.skip("no local Fashion-MNIST copy")
    ds = load_mnist("test", kind="fashion-mnist", data_dir=data_dir)
    assert ds.x.shape == (10_000, 784) and ds.name == "fashion-mnist-test"
    assert torch.bincount(ds.y).tolist() == [1000] * 10


def test_bad_split_and_kind_name_the_allowed_values(data_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"split must be one of \['train', 'test'\], got 'val'"):
        load_mnist("val", data_dir=data_dir)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"kind must be one of \['mnist', 'fashion-mnist'\]"):
        load_mnist("test", kind="kmnist", data_dir=data_dir)  # type: ignore[arg-type]


def test_uncompressed_idx_files_are_read(data_dir: Path, tmp_path: Path) -> None:
    folder = _copy_test_split(data_dir, tmp_path)
    (folder / LABELS).write_bytes(_content(data_dir, LABELS))
    assert load_mnist("test", data_dir=tmp_path).n == 10_000


# --------------------------------------------------------------------------- integrity


def _labels_variants(good: bytes) -> Iterator[tuple[str, bytes, str]]:
    """(case, bytes of the .gz file, expected message) for each kind of damage."""
    compressed = gzip.compress(good)
    yield "not gzip", good, "not a valid gzip file"
    yield "truncated gzip", compressed[: len(compressed) // 2], "not a valid gzip file"
    wrong_magic = b"\x00\x00\x08\x03" + good[4:]
    yield "wrong magic", gzip.compress(wrong_magic), r"IDX magic 0x00000803, expected 0x00000801"
    yield "truncated", gzip.compress(good[:-5]), r"10003 bytes .*expected 10008 .*truncated"
    yield "padded", gzip.compress(good + b"\x00"), r"10009 bytes .*expected 10008"
    yield "header only", gzip.compress(good[:6]), r"6 bytes, shorter than the 8-byte IDX header"
    flipped = bytearray(good)
    flipped[100] = (flipped[100] + 1) % 10
    yield "one label changed", gzip.compress(bytes(flipped)), r"sha256 .* expected ff7bcfd4"


@pytest.mark.parametrize("case", [c for c, _, _ in _labels_variants(b"\x00" * 10008)])
def test_damaged_file_is_named_with_what_was_expected(
    data_dir: Path, tmp_path: Path, case: str
) -> None:
    good = _content(data_dir, LABELS)
    variants = {c: (payload, message) for c, payload, message in _labels_variants(good)}
    payload, message = variants[case]
    folder = _copy_test_split(data_dir, tmp_path, labels=payload)
    with pytest.raises(DataCorruptedError, match=message) as caught:
        load_mnist("test", data_dir=tmp_path)
    assert str(folder / f"{LABELS}.gz") in str(caught.value)
    # Nothing half-loaded or cached: once the file is fixed the split loads.
    (folder / f"{LABELS}.gz").write_bytes(gzip.compress(good))
    assert load_mnist("test", data_dir=tmp_path).n == 10_000


def test_checksums_shipped_match_the_local_copy(data_dir: Path) -> None:
    import hashlib

    for kind, names in real._checksums().items():
        if not (data_dir / kind).is_dir():
            continue
        lines = (data_dir / kind / "SHA256SUMS.uncompressed").read_text().splitlines()
        listed = {name: digest for digest, name in (line.split() for line in lines)}
        assert names == listed
    # Independent check of one value: hash the decompressed labels here.
    digest = hashlib.sha256(_content(data_dir, LABELS)).hexdigest()
    assert digest == real._checksums()["mnist"][LABELS]


# --------------------------------------------------------------------------- downloads


def _changed_last_label(raw: bytes) -> bytes:
    return raw[:-1] + bytes([(raw[-1] + 1) % 10])


def test_offline_without_local_copy_says_where_to_put_the_files(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as caught:
        load_mnist("train", data_dir=tmp_path)
    message = str(caught.value)
    folder = tmp_path / "mnist"
    assert f"in {folder}/" in message
    for name in (*real._MNIST_FILES["train"], *real._MNIST_FILES["test"]):
        assert f"{name}.gz" in message
    assert "ROBUSTLAB_DATA" in message and "network disabled in tests" in message
    assert "ossci-datasets" in message  # each mirror tried is listed with its failure
    assert not folder.exists() or not any(folder.iterdir())


def test_offline_default_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROBUSTLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(DataNotFoundError, match=re.escape(str(tmp_path / "robustlab" / "fashion"))):
        load_mnist("test", kind="fashion-mnist")


def _serve(files: dict[str, bytes], log: list[str]) -> Callable[..., io.BytesIO]:
    def urlopen(url: str, timeout: float = 0.0) -> io.BytesIO:
        log.append(url)
        for name, payload in files.items():
            if url.endswith(f"/{name}"):
                return io.BytesIO(payload)
        raise urllib.error.HTTPError(url, 404, "Not Found", None, None)  # type: ignore[arg-type]

    return urlopen


def test_download_verifies_and_saves(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = {
        f"{name}.gz": (data_dir / "mnist" / f"{name}.gz").read_bytes() for name in (IMAGES, LABELS)
    }
    log: list[str] = []
    monkeypatch.setattr(real, "urlopen", _serve(served, log))
    ds = load_mnist("test", data_dir=tmp_path)
    assert ds.n == 10_000 and torch.bincount(ds.y).tolist()[:2] == [980, 1135]
    assert log == [f"{real.MIRRORS['mnist'][0]}{name}.gz" for name in (IMAGES, LABELS)]
    for name, payload in served.items():
        assert (tmp_path / "mnist" / name).read_bytes() == payload
    assert not list((tmp_path / "mnist").glob(".*part"))
    # Saved files are used from now on: no further requests.
    monkeypatch.setattr(real, "urlopen", _offline)
    real._mnist_arrays.cache_clear()
    assert load_mnist("test", data_dir=tmp_path).n == 10_000


def test_download_falls_back_to_the_next_mirror_on_bad_bytes(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _copy_test_split(data_dir, tmp_path)
    good = (data_dir / "mnist" / f"{LABELS}.gz").read_bytes()
    bad = gzip.compress(_changed_last_label(_content(data_dir, LABELS)))
    first, second = real.MIRRORS["mnist"][:2]
    log: list[str] = []

    def urlopen(url: str, timeout: float = 0.0) -> io.BytesIO:
        log.append(url)
        return io.BytesIO(bad if url.startswith(first) else good)

    monkeypatch.setattr(real, "urlopen", urlopen)
    assert load_mnist("test", data_dir=tmp_path).n == 10_000
    assert log == [f"{first}{LABELS}.gz", f"{second}{LABELS}.gz"]
    assert (tmp_path / "mnist" / f"{LABELS}.gz").read_bytes() == good


def test_download_of_bad_bytes_everywhere_is_an_error_and_saves_nothing(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _copy_test_split(data_dir, tmp_path)
    bad = gzip.compress(_changed_last_label(_content(data_dir, LABELS)))
    monkeypatch.setattr(real, "urlopen", lambda url, timeout=0.0: io.BytesIO(bad))
    with pytest.raises(DataNotFoundError, match=r"sha256 .* expected ff7bcfd4"):
        load_mnist("test", data_dir=tmp_path)
    assert not (folder / f"{LABELS}.gz").exists()


# --------------------------------------------------------------------------- views


def test_binary_pair_counts_and_labels(mnist_train: Dataset, mnist_test: Dataset) -> None:
    train = binary_pair(mnist_train)
    assert train.n == 5923 + 6742 == 12_665
    assert int((train.y == 1).sum()) == 6742 and int((train.y == -1).sum()) == 5923
    assert train.y.dtype == torch.float32
    keep = (mnist_train.y == 0) | (mnist_train.y == 1)
    assert torch.equal(train.x, mnist_train.x[keep])
    test = binary_pair(mnist_test, positive=0, negative=1)
    assert test.n == 2115 and int((test.y == 1).sum()) == 980
    with pytest.raises(ValueError, match="must differ"):
        binary_pair(mnist_test, positive=3, negative=3)
    with pytest.raises(ValueError, match=r"class 11 is not in mnist-test \(classes present"):
        binary_pair(mnist_test, positive=11)
    with pytest.raises(ValueError, match="integer class labels"):
        binary_pair(train)


def test_mnist_binary_and_multiclass(data_dir: Path, mnist_test: Dataset) -> None:
    ds = mnist_binary("test", d=196, unit_norm=True, data_dir=data_dir)
    assert ds.x.shape == (2115, 196) and ds.name == "mnist-test-1vs0-d196-unit"
    assert torch.allclose(ds.x.norm(dim=1), torch.ones(2115), atol=1e-6)
    plain = mnist_binary("test", data_dir=data_dir)
    assert torch.equal(plain.x, binary_pair(mnist_test).x)
    multi = mnist_multiclass("test", d=49, classes=[3, 8], data_dir=data_dir)
    assert multi.x.shape[1] == 49 and multi.y.dtype == torch.int64
    counts = torch.bincount(mnist_test.y)
    assert torch.bincount(multi.y).tolist() == [int(counts[3]), int(counts[8])]
    everything = mnist_multiclass("test", data_dir=data_dir)
    assert torch.equal(everything.y, mnist_test.y)
    with pytest.raises(ValueError, match="distinct digits"):
        mnist_multiclass("test", classes=[1, 1], data_dir=data_dir)


def _brute_force_area(x: torch.Tensor, side: int) -> torch.Tensor:
    """Block means with blocks [floor(28 i / k), ceil(28 (i + 1) / k)), one output at a time."""
    images = x.double().reshape(-1, 28, 28)
    out = torch.empty(images.shape[0], side, side, dtype=torch.float64)
    for i, j in itertools.product(range(side), range(side)):
        rows = slice(28 * i // side, math.ceil(28 * (i + 1) / side))
        cols = slice(28 * j // side, math.ceil(28 * (j + 1) / side))
        out[:, i, j] = images[:, rows, cols].mean(dim=(1, 2))
    return out.reshape(-1, side * side)


def test_downsample_2x2_blocks_match_brute_force(generator: torch.Generator) -> None:
    x = torch.rand(6, 784, generator=generator, dtype=torch.float64)
    small = downsample(x, 196)
    images = x.reshape(6, 28, 28)
    by_hand = torch.empty(6, 14, 14, dtype=torch.float64)
    for i, j in itertools.product(range(14), range(14)):
        block = images[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
        by_hand[:, i, j] = block.sum(dim=(1, 2)) / 4
    assert torch.allclose(small, by_hand.reshape(6, 196), atol=1e-14)
    # Disjoint blocks: area averaging keeps the image mean.
    assert torch.allclose(small.mean(1), x.mean(1), atol=1e-14)


@pytest.mark.parametrize("d", [25, 81, 400, 529])
def test_downsample_uneven_windows_match_brute_force(d: int, generator: torch.Generator) -> None:
    x = torch.rand(4, 784, generator=generator)
    small = downsample(x, d)
    assert small.shape == (4, d) and small.dtype == torch.float32
    assert torch.allclose(small.double(), _brute_force_area(x, math.isqrt(d)), atol=1e-6)


def test_downsample_real_digits_and_edge_cases(mnist_test: Dataset) -> None:
    x = mnist_test.x[:50]
    assert downsample(x, 784) is x
    for d in (25, 196):
        small = downsample(x, d)
        assert float(small.min()) >= 0 and float(small.max()) <= 1
    batched = downsample(x.reshape(5, 10, 784), 49)
    assert torch.equal(batched.reshape(50, 49), downsample(x, 49))
    for bad in (24, 16, 900, 0):
        with pytest.raises(ValueError, match=rf"one of \[25, 36, .*, 784\]; got {bad}"):
            downsample(x, bad)
    with pytest.raises(ValueError, match="28 x 28"):
        downsample(torch.zeros(3, 100), 25)
    with pytest.raises(ValueError, match="floating"):
        downsample(torch.zeros(3, 784, dtype=torch.uint8), 25)
    assert ALLOWED_DIMS[0] == 25 and ALLOWED_DIMS[-1] == 784 and len(ALLOWED_DIMS) == 24


def test_unit_norm_rows_and_zero_rows(generator: torch.Generator) -> None:
    x = torch.randn(20, 7, generator=generator, dtype=torch.float64)
    scaled = unit_norm(x)
    assert torch.allclose(scaled.norm(dim=1), torch.ones(20, dtype=torch.float64))
    assert torch.allclose(scaled * x.norm(dim=1, keepdim=True), x)
    ds = unit_norm(Dataset(x, torch.ones(20), "toy"))
    assert isinstance(ds, Dataset) and ds.name == "toy-unit" and torch.equal(ds.x, scaled)
    x[3] = 0
    x[11] = 0
    with pytest.raises(ValueError, match=r"2 row\(s\) have norm 0 \(rows \[3, 11\]\)"):
        unit_norm(x)


# --------------------------------------------------------------------------- CIFAR-10 binary


def _write_cifar(root: Path, records_per_file: int, seed: int = 0) -> dict[str, np.ndarray]:
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    written: dict[str, np.ndarray] = {}
    for name in (*(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin"):
        records = rng.integers(0, 256, size=(records_per_file, 3073), dtype=np.uint8)
        records[:, 0] = rng.integers(0, 10, size=records_per_file)
        (folder / name).write_bytes(records.tobytes())
        written[name] = records
    return written


def test_cifar10_binary_round_trip(tmp_path: Path) -> None:
    written = _write_cifar(tmp_path, records_per_file=3)
    train = load_cifar10("train", data_dir=tmp_path)
    assert train.x.shape == (15, 3072) and train.x.dtype == torch.float32
    assert train.y.dtype == torch.int64 and train.name == "cifar10-train"
    records = np.concatenate([written[f"data_batch_{i}.bin"] for i in range(1, 6)])
    assert train.y.tolist() == records[:, 0].tolist()
    expected = torch.tensor(records[:, 1:], dtype=torch.float64) / 255
    assert torch.equal(train.x, expected.float())
    test = load_cifar10("test", data_dir=tmp_path)
    assert test.n == 3 and test.y.tolist() == written["test_batch.bin"][:, 0].tolist()
    assert float(test.x.min()) >= 0 and float(test.x.max()) <= 1


def test_cifar10_truncated_bad_label_and_missing(tmp_path: Path) -> None:
    _write_cifar(tmp_path, records_per_file=2)
    path = tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(
        DataCorruptedError, match=r"data_batch_3.bin: 6145 bytes, .*multiple of 3073"
    ):
        load_cifar10("train", data_dir=tmp_path)
    test_file = tmp_path / "cifar-10-batches-bin" / "test_batch.bin"
    raw = bytearray(test_file.read_bytes())
    raw[3073] = 10
    test_file.write_bytes(bytes(raw))
    with pytest.raises(DataCorruptedError, match=r"test_batch.bin: label byte 10 found"):
        load_cifar10("test", data_dir=tmp_path)
    with pytest.raises(DataNotFoundError, match=r"cifar-10-batches-bin/data_batch_1.bin not found"):
        load_cifar10("train", data_dir=tmp_path / "elsewhere")


def test_bilinear_downsampling_matches_pixel_centre_interpolation() -> None:
    """method="bilinear" (no antialiasing): output (i, j) interpolates the input at the pixel
    centre ((i + 1/2) 28/k - 1/2, (j + 1/2) 28/k - 1/2), edges clamped; float64 brute force."""
    g = torch.Generator().manual_seed(4)
    x = torch.rand(3, 784, generator=g, dtype=torch.float64)
    for d in (25, 49, 100, 400):
        k = math.isqrt(d)
        small = downsample(x, d, method="bilinear").reshape(3, k, k)
        images = x.reshape(3, 28, 28)
        expected = torch.empty(3, k, k, dtype=torch.float64)
        for i in range(k):
            for j in range(k):
                u = max((i + 0.5) * 28 / k - 0.5, 0.0)
                v = max((j + 0.5) * 28 / k - 0.5, 0.0)
                i0, j0 = min(int(u), 27), min(int(v), 27)
                i1, j1 = min(i0 + 1, 27), min(j0 + 1, 27)
                a, b = u - i0, v - j0
                expected[:, i, j] = (
                    (1 - a) * (1 - b) * images[:, i0, j0]
                    + (1 - a) * b * images[:, i0, j1]
                    + a * (1 - b) * images[:, i1, j0]
                    + a * b * images[:, i1, j1]
                )
        torch.testing.assert_close(small, expected)
        assert not torch.allclose(small.reshape(3, d), downsample(x, d))  # differs from area
    assert downsample(x, 784, method="bilinear") is x
    with pytest.raises(ValueError, match="method must be one of"):
        downsample(x, 49, method="nearest")  # type: ignore[arg-type]
