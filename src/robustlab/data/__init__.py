"""Data: synthetic sets of the papers (seeded) and real sets (MNIST, Fashion-MNIST, CIFAR-10).

`Dataset` (x (n, d), y (n,), name) is what every generator and loader returns. Synthetic
generators live in `robustlab.data.synthetic`; the loaders and views in `robustlab.data.real`.
"""

from robustlab.data import synthetic
from robustlab.data.dataset import Dataset, random_subset
from robustlab.data.real import (
    ALLOWED_DIMS,
    DOWNSAMPLING,
    DataCorruptedError,
    DataNotFoundError,
    Downsampling,
    binary_pair,
    downsample,
    load_cifar10,
    load_mnist,
    mnist_binary,
    mnist_multiclass,
    unit_norm,
)
from robustlab.data.synthetic import SchmidtDataset, SeparableDataset

__all__ = [
    "ALLOWED_DIMS",
    "DOWNSAMPLING",
    "DataCorruptedError",
    "DataNotFoundError",
    "Dataset",
    "Downsampling",
    "SchmidtDataset",
    "SeparableDataset",
    "binary_pair",
    "downsample",
    "load_cifar10",
    "load_mnist",
    "mnist_binary",
    "mnist_multiclass",
    "random_subset",
    "synthetic",
    "unit_norm",
]
