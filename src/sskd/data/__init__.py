"""Data sets read from local files in their real formats, subsets, label noise, loaders and views."""

from sskd.data.cifar import load_cifar10, load_cifar100
from sskd.data.dataset import (
    ArrayDataset,
    DatasetFormatError,
    DatasetInfo,
    ImageFolderDataset,
)
from sskd.data.digits import DIGITS_SPLIT_SEED, DIGITS_TEST_FRACTION, load_digits
from sskd.data.loader import ArrayBatchLoader, make_loader
from sskd.data.registry import UnknownDatasetError, dataset_info, list_datasets, load_dataset
from sskd.data.safe_pickle import UnsafePickleError, safe_load_pickle
from sskd.data.stl10 import load_stl10
from sskd.data.subsets import (
    class_balanced_subset,
    few_shot,
    symmetric_label_noise,
    with_label_noise,
)
from sskd.data.svhn import load_svhn
from sskd.data.views import (
    MultiViewBatch,
    ViewMaker,
    flatten_views,
    joint_labels,
    list_view_makers,
    make_views,
    unflatten_views,
)

__all__ = [
    "ArrayBatchLoader",
    "ArrayDataset",
    "DIGITS_SPLIT_SEED",
    "DIGITS_TEST_FRACTION",
    "DatasetFormatError",
    "DatasetInfo",
    "ImageFolderDataset",
    "UnknownDatasetError",
    "UnsafePickleError",
    "class_balanced_subset",
    "dataset_info",
    "few_shot",
    "list_datasets",
    "load_cifar10",
    "load_cifar100",
    "load_dataset",
    "load_digits",
    "load_stl10",
    "load_svhn",
    "make_loader",
    "safe_load_pickle",
    "symmetric_label_noise",
    "with_label_noise",
    "MultiViewBatch",
    "ViewMaker",
    "flatten_views",
    "joint_labels",
    "list_view_makers",
    "make_views",
    "unflatten_views",
]
