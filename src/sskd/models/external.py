"""Any torchvision or timm classifier by name: ``torchvision:resnet50``, ``timm:resnet18``.

The network is built by its own library, then wrapped by :class:`FeatureAdapter` so it
returns the zoo's ``ModelOutput``; its state-dict keys stay the library's, so the
library's (or a user's fine-tuned) weights load unchanged. Where it is found:

* stages (``feats``): timm's own ``feature_info``; for torchvision, the known families
  (ResNet, MobileNetV2, ShuffleNetV2) use their hand-picked nodes, any other network the
  last module at each spatial size among the children of its outermost module whose
  children change the spatial size (:func:`find_stage_modules`);
* ``pooled``: what the last ``Linear`` layer reads (dropout and identity layers skipped);
* ``logits``: the network's output.
"""

from __future__ import annotations

import importlib.util
import itertools
from typing import Callable

import torch
from torch import nn

from sskd.models.adapter import (FeatureAdapter, from_torchvision_mobilenet_v2, from_torchvision_resnet,
                                 from_torchvision_shufflenet_v2, graph_node_names)

LIBRARIES = ("torchvision", "timm")
DEFAULT_INPUT_SIZE = 224
PROBE_SIZE = 64  # input side used to find where the spatial size changes


def split_library_name(name: str) -> tuple[str, str] | None:
    """``"torchvision:resnet50"`` → ``("torchvision", "resnet50")``; ``None`` for zoo names."""
    library, sep, model = str(name).partition(":")
    return (library, model) if sep else None


def library_builder(name: str) -> tuple[Callable[..., nn.Module], int, str]:
    """``(builder(num_classes=1000, **kwargs) -> FeatureAdapter, input size, description)``
    of a ``library:model`` name; ``ValueError`` naming the model when it is unknown."""
    library, model = split_library_name(name) or ("", "")
    if library == "torchvision":
        import torchvision

        if model not in torchvision.models.list_models(torchvision.models):
            raise ValueError(f"unknown model {name!r}: torchvision has no classifier {model!r} "
                             f"(see torchvision.models.list_models())")
        return (lambda num_classes=1000, **kw: adapt_torchvision(
            torchvision.models.get_model(model, num_classes=num_classes, **kw)),
            DEFAULT_INPUT_SIZE, f"torchvision {model}")
    if library == "timm":
        if importlib.util.find_spec("timm") is None:
            raise ValueError(f"model {name!r} needs timm: pip install 'sskd[timm]'")
        import timm

        if not timm.is_model(model):
            raise ValueError(f"unknown model {name!r}: timm has no model {model!r} (see timm.list_models())")
        size = timm.get_pretrained_cfg_value(model, "input_size") or (3, DEFAULT_INPUT_SIZE, DEFAULT_INPUT_SIZE)
        return (lambda num_classes=1000, **kw: adapt_timm(
            timm.create_model(model, pretrained=False, num_classes=num_classes, **kw)),
            int(size[-1]), f"timm {model}")
    raise ValueError(f"unknown model {name!r}: a library model is named "
                     f"{' or '.join(f'{lib}:<name>' for lib in LIBRARIES)}")


def adapt_torchvision(model: nn.Module) -> FeatureAdapter:
    """A torchvision classifier with the zoo's ``ModelOutput``."""
    import torchvision.models as tvm

    if isinstance(model, tvm.ResNet):
        return from_torchvision_resnet(model)
    if isinstance(model, tvm.MobileNetV2):
        return from_torchvision_mobilenet_v2(model)
    if isinstance(model, tvm.ShuffleNetV2):
        return from_torchvision_shufflenet_v2(model)
    return adapt_generic(model, find_stage_modules(model))


def adapt_timm(model: nn.Module) -> FeatureAdapter:
    """A timm classifier with the zoo's ``ModelOutput``; stages from its ``feature_info``."""
    info = getattr(model, "feature_info", None)
    stages = [entry["module"] for entry in info] if info else find_stage_modules(model)
    return adapt_generic(model, stages)


def adapt_generic(model: nn.Module, stage_modules: list[str]) -> FeatureAdapter:
    """Wrap ``model`` with ``stage_modules`` as ``feats`` and its classifier's input as ``pooled``."""
    nodes = graph_node_names(model)
    modules = dict(model.named_modules())
    linears = [n for n, m in modules.items() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__}: no Linear classifier found; wrap it with "
                         f"sskd.models.FeatureAdapter and name its nodes yourself")
    classifier = linears[-1]
    i = next(k for k, n in enumerate(nodes) if n == classifier or n.startswith(classifier + ".")) - 1
    while i > 0 and isinstance(modules.get(nodes[i]), (nn.Dropout, nn.Identity)):
        i -= 1
    adapter = FeatureAdapter(model, stage_modules, pooled_node=nodes[i], logits_node=nodes[-1])
    adapter.embed_dim = modules[classifier].in_features
    return adapter


def find_stage_modules(model: nn.Module, probe_size: int = PROBE_SIZE) -> list[str]:
    """Names of the modules whose outputs are the network's stages, shallow to deep.

    One probe forward (eval mode, ``[1, 3, probe_size, probe_size]``) records each module's
    input and output sizes. The network is cut into units: each child of the root, where a
    child that shrinks its input more than once (a container of several stages, e.g.
    ``features``) is replaced by its own children, recursively. The stages are the last unit
    (in order of completion) at each spatial size, largest first; 1×1 maps (global pooling)
    are not stages.
    """
    sizes: dict[str, tuple[int, int]] = {}
    shrink: dict[str, float] = {}
    done: dict[str, int] = {}  # completion order of each module's last call
    clock = itertools.count()

    def record(name: str):
        def hook(module, inputs, output):
            if isinstance(output, torch.Tensor) and output.dim() == 4 and output.shape[-2:] != (1, 1):
                sizes[name] = tuple(output.shape[-2:])
                done[name] = next(clock)
                x = inputs[0] if inputs else None
                if isinstance(x, torch.Tensor) and x.dim() == 4:
                    shrink[name] = x.shape[-2] / output.shape[-2]
        return hook

    handles = [m.register_forward_hook(record(n)) for n, m in model.named_modules() if n]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, probe_size, probe_size))
    except Exception as exc:
        raise ValueError(f"{type(model).__name__}: a probe forward of a {probe_size}x{probe_size} "
                         f"image failed ({exc}); wrap it with sskd.models.FeatureAdapter and name "
                         f"its stages yourself") from None
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()

    def units(module: nn.Module, prefix: str) -> list[str]:
        found = []
        for n, child in module.named_children():
            name = prefix + n
            if shrink.get(name, 1.0) > 2 and next(child.children(), None) is not None:
                found += units(child, name + ".")
            elif name in sizes:
                found.append(name)
        return found

    last: dict[tuple[int, int], str] = {}
    for unit in sorted(units(model, ""), key=done.__getitem__):
        last[sizes[unit]] = unit
    if len(last) < 2:
        raise ValueError(f"{type(model).__name__}: cannot tell its stages apart; wrap it with "
                         f"sskd.models.FeatureAdapter and name them yourself")
    return [last[s] for s in sorted(last, key=lambda s: -s[0] * s[1])]
