"""Teacher–student similarity of SSKD (ECCV 2020) Table 6, protocol of BASELINES.md §6.

Teacher and student see the same images of a data-set split in the same order, with
test-time preprocessing. Reported: KL(teacher ‖ student) of softmax(z / T) for each
temperature (batchmean, float64, no T²), over logits [n, K]; and linear CKA (Kornblith et
al. 2019) of their pooled penultimate embeddings [n, D_t] and [n, D_s] (or their logits),
biased HSIC over the whole split. Both are streamed: memory does not grow with n.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from sskd.analysis.cka import LinearCKAAccumulator
from sskd.analysis.network_outputs import (load_split, network_classes, open_network, start_runtime,
                                           stream_outputs)
from sskd.analysis.prediction_kl import PredictionKLAccumulator
from sskd.engine.saved_network import SavedNetwork, locate_saved_network

REPRESENTATIONS = ("pooled", "logits")
KL_DIRECTION = "teacher||student"
CKA_ESTIMATOR = "linear CKA, biased HSIC over the whole split (streamed float64 second moments)"


def _check_options(temperatures: Sequence[float], representation: str) -> None:
    if representation not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {', '.join(REPRESENTATIONS)}; got {representation!r}")
    if not temperatures:
        raise ValueError("give at least one KL temperature")


def _dataset_name(dataset: Optional[str], teacher: SavedNetwork, student: SavedNetwork) -> str:
    name = dataset or student.dataset or teacher.dataset
    if name is None:
        raise ValueError(f"neither {teacher.path} nor {student.path} names its data set; pass --dataset")
    return name


def teacher_student_similarity(teacher: str | Path, student: str | Path, dataset: Optional[str] = None,
                               data_root: Optional[str] = None, split: str = "test",
                               temperatures: Sequence[float] = (1.0, 4.0), representation: str = "pooled",
                               batch_size: int = 256, device: str = "auto", amp: str = "none",
                               teacher_model: Optional[str] = None,
                               student_model: Optional[str] = None) -> dict[str, Any]:
    """KL and linear CKA between two saved networks on ``split`` of ``dataset``.

    ``teacher``/``student``: a run directory or a ``model.safetensors``; a plain state dict
    needs ``teacher_model``/``student_model``. ``dataset`` defaults to the one the
    student's metadata names (else the teacher's); folder images take the student's
    image size. Refuses networks with different numbers of classes.
    """
    _check_options(temperatures, representation)
    kls = [PredictionKLAccumulator(t) for t in temperatures]
    saved_t = locate_saved_network(teacher, model=teacher_model)
    saved_s = locate_saved_network(student, model=student_model)
    name = _dataset_name(dataset, saved_t, saved_s)
    image_size = saved_s.meta.get("image_size") or saved_t.meta.get("image_size")
    data = load_split(name, data_root, split, image_size)
    classes_t, classes_s = network_classes(saved_t, data.info), network_classes(saved_s, data.info)
    if classes_t != classes_s:
        raise ValueError(f"teacher {saved_t.path} has {classes_t} classes but student {saved_s.path} has "
                         f"{classes_s}; their predictions cannot be compared")
    dev, speed = start_runtime(device, amp)
    networks = [open_network(saved_t, data.info, dev), open_network(saved_s, data.info, dev)]
    cka = LinearCKAAccumulator()
    for (out_t, out_s), _ in stream_outputs(networks, data, batch_size, dev, speed):
        cka.update(getattr(out_t, representation), getattr(out_s, representation))
        for kl in kls:
            kl.update(out_t.logits, out_s.logits)
    return {
        "teacher": str(saved_t.path), "student": str(saved_s.path),
        "teacher_model": saved_t.model, "student_model": saved_s.model,
        "dataset": name, "split": split, "images": cka.count, "representation": representation,
        "kl_direction": KL_DIRECTION,
        "kl": [{"temperature": kl.temperature, "t_squared": False, "value": kl.value()} for kl in kls],
        "cka": cka.value(), "cka_estimator": CKA_ESTIMATOR,
    }
