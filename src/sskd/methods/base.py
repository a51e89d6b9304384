"""The method contract: an ``nn.Module`` that owns its networks and returns its losses.

``forward_train(batch) -> (logits [B, K] of the trained network on the normal views,
{name: weighted scalar loss})``. The engine sums the losses, steps the optimiser over
``trainable_parameters()``, and evaluates ``eval_network()`` on the test set; it never
asks which method it is running.

Networks live in a ``ModuleDict`` shared by all stages of a run (e.g. ``student``,
``teacher``, ``teacher_head``), so a later stage reuses what an earlier one trained,
and one checkpoint holds them all.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterator, Optional

import torch.nn.functional as F
from torch import Tensor, nn

from sskd.config import RunConfig, StageConfig, build_dataclass
from sskd.data.views import MultiViewBatch
from sskd.methods.frozen import frozen_forward
from sskd.registry import Registry


@dataclass
class MethodContext:
    """What a method may read while it is built."""

    config: RunConfig
    stage: StageConfig
    num_classes: int
    networks: nn.ModuleDict
    image_size: Optional[int] = None
    """Side of the (square) training images; ``None``: the trained network's native size."""
    train_labels: Optional[Tensor] = None
    """int64 ``[N]``, the label of every training image, indexed by ``MultiViewBatch.indices``
    (CRD draws its negatives from the other classes); ``None`` outside a run."""

    def input_size(self) -> int:
        """The image side the networks see: ``image_size``, else the trained network's native one."""
        if self.image_size is not None:
            return self.image_size
        from sskd.models import model_entry

        return model_entry(self.config.model.name).input_size

    def network(self, key: str, build: Callable[[], nn.Module]) -> nn.Module:
        """The shared network ``key``, built with ``build()`` the first time it is asked for."""
        if key not in self.networks:
            self.networks[key] = build()
        return self.networks[key]


@dataclass(frozen=True)
class Paper:
    """The publication a method implements, as ``sskd methods`` lists it."""

    short: str
    authors: str
    title: str
    venue: str
    year: int

    def cite(self) -> str:
        return f"{self.authors}, \"{self.title}\", {self.venue} {self.year}"


@dataclass
class NoHparams:
    """A method without hyper-parameters."""


class Method(nn.Module):
    """Base class of every training method (see the module docstring).

    Subclasses set ``views`` (the view maker used for training batches, see
    :func:`sskd.data.make_views`), ``Hparams`` (a dataclass with the paper's defaults,
    filled from the stage's ``args``) and ``frozen`` (attributes naming networks that stay
    in eval mode whatever mode the method is put in, e.g. the teacher). A method with
    metrics of its own on the test set (e.g. SSKD's retrieval accuracy) sets ``eval_views``
    to the view maker they need and implements :meth:`eval_metrics`. ``cacheable``: the
    stage's result (its ``export_key`` network) depends only on the frozen teacher
    checkpoint and the stage's own settings, so the engine may reuse it across runs.
    ``teacher_side``: the stage trains a head or branches on the frozen teacher, not the
    run's model (its default learning rate is then not the model's, see :mod:`sskd.rules`).
    ``network_args``: builder arguments the method's paper uses for a network, ``{zoo
    name: {argument: value}}``, filled into the model's and teacher's ``args`` unless given.
    ``paper``: the publication implemented (init stages name their method's). ``memory_bank``:
    the method keeps a memory over the whole training set, indexed by ``batch.indices``.
    """

    views: ClassVar[str] = "standard"
    eval_views: ClassVar[Optional[str]] = None
    Hparams: ClassVar[type] = NoHparams
    frozen: ClassVar[tuple[str, ...]] = ()
    needs_teacher: ClassVar[bool] = False
    cacheable: ClassVar[bool] = False
    teacher_side: ClassVar[bool] = False
    network_args: ClassVar[dict[str, dict]] = {}
    paper: ClassVar[Optional[Paper]] = None
    memory_bank: ClassVar[bool] = False

    def __init__(self, context: MethodContext, hparams):
        super().__init__()
        self.hparams = hparams
        self.label_smoothing = context.stage.label_smoothing
        self.frozen_rows = context.config.speed.frozen_rows

    def run_frozen(self, fn: Callable[[Tensor], Any], x: Tensor) -> Any:
        """``fn(x)`` for a frozen network, under inference mode and in ``speed.frozen_rows``
        chunks; returns ordinary tensors (:func:`sskd.methods.frozen.frozen_forward`)."""
        return frozen_forward(fn, x, self.frozen_rows)

    def class_ce(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Cross-entropy of class logits ``[N, K]`` against labels ``[N]``, with the stage's
        ``label_smoothing`` ε (Szegedy et al., 2016, §7: target ``(1−ε)·onehot + ε/K``).
        Every method's CE against the ground-truth classes goes through here; the joint
        class×rotation CE and the KD/KL terms do not."""
        return F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)

    @classmethod
    def check_hparams(cls, hparams) -> None:
        """Raise ``ValueError`` for hyper-parameter values that cannot work. Called before
        anything is built, read or written (also by the run's preflight checks)."""

    @classmethod
    def default_lr(cls, config: RunConfig) -> Optional[float]:
        """The SGD learning rate of a stage of this method that leaves ``lr`` unset, when the
        method's code fixes one other than the rules of :mod:`sskd.rules` (e.g. FT's
        paraphraser); ``None`` to follow those rules."""
        return None

    @classmethod
    def check_run(cls, config: RunConfig, index: int) -> None:
        """Raise ``ValueError`` if stage ``index`` cannot work within this run (networks it
        cannot serve, a mismatch with an earlier stage). Run's preflight, before anything
        is read or written, so that a mistake is not found after a long earlier stage."""

    def forward_train(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        raise NotImplementedError

    def leaves_parameters_unused(self) -> bool:
        """Whether a trained parameter may get no gradient because a loss term is switched
        off (a ``*_weight`` hyper-parameter is 0); DistributedDataParallel then looks for them."""
        if not dataclasses.is_dataclass(self.hparams):
            return False
        return any(f.name.endswith("_weight") and getattr(self.hparams, f.name) == 0
                   for f in dataclasses.fields(self.hparams))

    def eval_metrics(self, batch: MultiViewBatch) -> dict[str, Tensor]:
        """Metrics on a test batch made by the ``eval_views`` maker (test mode): ``{name:
        mean over the batch's images}`` as 0-dim device tensors; the engine averages them
        over the split, weighted by batch size, and logs them as ``<split>/<name>``."""
        return {}

    def train(self, mode: bool = True) -> "Method":
        super().train(mode)
        for name in self.frozen:
            getattr(self, name).eval()
        return self

    def forward(self, batch: MultiViewBatch) -> tuple[Tensor, dict[str, Tensor]]:
        """Same as :meth:`forward_train`, so that DistributedDataParallel can wrap a method."""
        return self.forward_train(batch)

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """The parameters this stage optimises (default: all that require grad)."""
        return (p for p in self.parameters() if p.requires_grad)

    def eval_network(self) -> nn.Module:
        """The network whose test accuracy this stage reports; returns a ``ModelOutput``."""
        raise NotImplementedError

    def evaluates_frozen_network(self) -> bool:
        """Whether :meth:`eval_network` is one of the ``frozen`` networks (its test scores
        cannot change during the stage, so the engine measures them once)."""
        network = self.eval_network()
        return any(getattr(self, name) is network for name in self.frozen)

    def export_key(self) -> str:
        """Key of the network this stage delivers (saved as ``model.safetensors``, cached)."""
        raise NotImplementedError

    def export_network(self, networks: nn.ModuleDict) -> nn.Module:
        """What ``model.safetensors`` holds; default ``networks[export_key()]``. HSSAKD's
        teachers export backbone and branches together (keys ``backbone.*``, ``branches.*``)."""
        return networks[self.export_key()]


METHODS: Registry[type[Method]] = Registry("method")


def register_method(name: str):
    """Class decorator registering a :class:`Method` under ``name``."""
    return METHODS.class_decorator(name, "method_name")


def list_methods() -> list[str]:
    return sorted(METHODS)


def method_class(name: str) -> type[Method]:
    """The method registered as ``name``; an unknown name lists the valid ones."""
    return METHODS.get(name)


def build_method(context: MethodContext, stage_key: str) -> Method:
    """Build the stage's method, checking its ``args`` against the method's ``Hparams``."""
    cls = method_class(context.stage.method)
    hparams = build_dataclass(cls.Hparams, context.stage.args, f"{stage_key}.args")
    cls.check_hparams(hparams)
    return cls(context, hparams)

