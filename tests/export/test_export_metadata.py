"""The metadata of an export: class names and preprocessing, with their fallbacks."""

import pytest
from export_helpers import RUN_META

from sskd.export import ExportError, export_metadata


def meta_of(**changes):
    run_meta = {k: v for k, v in {**RUN_META, **changes}.items() if v is not None}
    return export_metadata(run_meta, "run/model.safetensors")


def test_class_names_come_from_the_run_then_the_data_set_then_indices():
    assert meta_of()["class_names"][9] == "digit 9"
    cifar = meta_of(class_names=None, dataset="cifar10")
    assert cifar["class_names"][:2] == ["airplane", "automobile"]
    assert meta_of(class_names=None, dataset="image_folder")["class_names"] == [str(i) for i in range(10)]
    assert meta_of(class_names=[], dataset="cifar100", num_classes=100)["class_names"][42] == "42"


def test_missing_preprocessing_is_read_from_the_data_set():
    meta = meta_of(mean=None, std=None, image_size=None, dataset="stl10")
    assert meta["input_size"] == 96 and len(meta["mean"]) == 3 and meta["mean"] != RUN_META["mean"]


def test_missing_preprocessing_of_an_unknown_data_set_is_an_error():
    with pytest.raises(ExportError, match=r"run/model\.safetensors: its metadata has no 'mean'"):
        meta_of(mean=None, dataset="image_folder")


def test_a_file_that_names_no_model_is_refused():
    with pytest.raises(ExportError, match="names no model"):
        meta_of(model=None)


def test_an_image_folder_student_says_how_a_photo_is_resized_and_cropped():
    assert meta_of(dataset="image_folder", image_size=224)["resize"] == {"shorter_side": 256, "center_crop": 224}
    assert meta_of(dataset="image_folder", image_size=64)["resize"] == {"shorter_side": 73, "center_crop": 64}
    assert meta_of()["resize"] is None  # digits are stored at the input size
