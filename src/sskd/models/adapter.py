"""Give any torchvision or timm classifier the zoo's :class:`ModelOutput`.

Uses torchvision's FX feature extraction (``create_feature_extractor``) to read named
graph nodes: the stage outputs, optionally their pre-activations, the pooled embedding
and the logits. The adapter registers the traced network's modules under their
original names, so the original ``state_dict`` (e.g. torchvision or timm weights)
loads into it unchanged.
"""

from __future__ import annotations

from typing import Optional, Sequence

from torch import Tensor, nn
from torchvision.models import ResNet
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

from sskd.models.output import ModelOutput


def graph_node_names(model: nn.Module) -> list[str]:
    """The node names usable with :class:`FeatureAdapter` (eval-mode graph)."""
    return get_graph_node_names(model)[1]


class FeatureAdapter(nn.Module):
    """Wraps ``model`` so that ``forward(x, preact=False)`` returns a :class:`ModelOutput`.

    Args:
        model: a classifier taking ``[N, 3, H, W]``.
        stage_nodes: graph nodes (or module names) whose outputs form ``feats``.
        pooled_node: the node giving the ``[N, D]`` vector the classifier reads.
        logits_node: the node giving ``[N, K]`` logits.
        preact_nodes: nodes giving each stage's pre-activation; when omitted,
            ``preact_feats`` repeats ``feats``.
    """

    def __init__(self, model: nn.Module, stage_nodes: Sequence[str], pooled_node: str,
                 logits_node: str, preact_nodes: Optional[Sequence[str]] = None):
        super().__init__()
        stage_nodes = list(stage_nodes)
        if preact_nodes is not None and len(preact_nodes) != len(stage_nodes):
            raise ValueError(f"preact_nodes has {len(preact_nodes)} entries, stage_nodes has {len(stage_nodes)}")
        known = set(graph_node_names(model)) | {name for name, _ in model.named_modules()}
        wanted = stage_nodes + list(preact_nodes or []) + [pooled_node, logits_node]
        missing = [n for n in wanted if n not in known]
        if missing:
            raise ValueError(f"{type(model).__name__} has no graph node(s) {missing}; "
                             f"see sskd.models.adapter.graph_node_names(model) for the valid names")
        return_nodes = {n: f"feat{i}" for i, n in enumerate(stage_nodes)}
        for i, n in enumerate(preact_nodes or []):
            return_nodes.setdefault(n, f"preact{i}")
        return_nodes.setdefault(pooled_node, "pooled")
        return_nodes.setdefault(logits_node, "logits")
        graph = create_feature_extractor(model, return_nodes=return_nodes)
        if preact_nodes is not None:
            clone_outputs(graph, [return_nodes[n] for n in preact_nodes])
        self._keys = (
            [return_nodes[n] for n in stage_nodes],
            [return_nodes[n] for n in preact_nodes] if preact_nodes is not None else None,
            return_nodes[pooled_node], return_nodes[logits_node],
        )
        # Register the traced modules and root tensors under their original names; the
        # graph itself is kept unregistered so that no state_dict key is duplicated.
        for name, child in graph.named_children():
            self.add_module(name, child)
        for name, param in graph.named_parameters(recurse=False):
            self.register_parameter(name, param)
        for name, buf in graph.named_buffers(recurse=False):
            self.register_buffer(name, buf)
        object.__setattr__(self, "_graph", graph)
        self.stage_nodes = stage_nodes
        #: whether the wrapped network is torchvision's ResNet (HSSAKD's ImageNet branch rule)
        self.torchvision_resnet = isinstance(model, ResNet)
        classifier = dict(model.named_modules()).get(logits_node)
        #: ``D``, the size of ``pooled`` (the classifier's input), when the logits come from a Linear.
        self.embed_dim = classifier.in_features if isinstance(classifier, nn.Linear) else None

    def train(self, mode: bool = True) -> "FeatureAdapter":
        super().train(mode)
        self._graph.train(mode)  # switches between the traced train and eval graphs
        return self

    def forward(self, x: Tensor, preact: bool = False) -> ModelOutput:
        """Args: x ``[N, 3, H, W]``. Returns logits ``[N, K]``, feats, preacts, pooled ``[N, D]``."""
        out = self._graph(x)
        feat_keys, preact_keys, pooled_key, logits_key = self._keys
        feats = [out[k] for k in feat_keys]
        preacts = None
        if preact:
            preacts = [out[k] for k in preact_keys] if preact_keys is not None else list(feats)
        return ModelOutput(out[logits_key], feats, preacts, out[pooled_key].flatten(1))


def clone_outputs(graph: nn.Module, keys: Sequence[str]) -> None:
    """Return a copy of each output ``key`` taken right where it is computed.

    Pre-activations are typically overwritten by an in-place ReLU (torchvision's
    ``out += identity; relu(out)``), so the traced node alone would hand back the
    activated tensor. Both of the extractor's graphs (train and eval) are patched.
    """
    for g in (graph.train_graph, graph.eval_graph):
        output = next(n for n in g.nodes if n.op == "output")
        mapping = dict(output.args[0])
        for key in keys:
            with g.inserting_after(mapping[key]):
                mapping[key] = g.call_method("clone", (mapping[key],))
        output.args = (mapping,)
        g.lint()
    graph.graph = graph.train_graph if graph.training else graph.eval_graph


def from_torchvision_resnet(model: nn.Module) -> FeatureAdapter:
    """torchvision ResNet: feats = stem (after max-pool), layer1..4; preacts = each
    stage's last residual sum before its ReLU."""
    n_blocks = [len(getattr(model, f"layer{i}")) for i in range(1, 5)]
    return FeatureAdapter(
        model,
        stage_nodes=["maxpool", "layer1", "layer2", "layer3", "layer4"],
        preact_nodes=["maxpool"] + [f"layer{i}.{n - 1}.add" for i, n in enumerate(n_blocks, 1)],
        pooled_node="flatten", logits_node="fc")


def from_torchvision_mobilenet_v2(model: nn.Module) -> FeatureAdapter:
    """torchvision MobileNetV2: feats = ``features.1, 3, 6, 13, 18`` (strides 2–32)."""
    return FeatureAdapter(
        model, stage_nodes=["features.1", "features.3", "features.6", "features.13", "features.18"],
        pooled_node="flatten", logits_node="classifier.1")


def from_torchvision_shufflenet_v2(model: nn.Module) -> FeatureAdapter:
    """torchvision ShuffleNetV2: feats = stem (after max-pool), stage2..4, conv5."""
    return FeatureAdapter(
        model, stage_nodes=["maxpool", "stage2", "stage3", "stage4", "conv5"],
        pooled_node="mean", logits_node="fc")
