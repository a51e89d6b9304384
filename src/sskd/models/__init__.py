"""The KD model zoo: every network returns a :class:`ModelOutput`.

>>> from sskd.models import build_model
>>> out = build_model("resnet8x4", num_classes=100)(torch.randn(2, 3, 32, 32))
>>> out.logits.shape, [f.shape[1] for f in out.feats], out.pooled.shape
"""

from sskd.models import zoo as _zoo  # noqa: F401  (registers the networks)
from sskd.models.adapter import FeatureAdapter, graph_node_names
from sskd.models.base import ZooNet
from sskd.models.output import ModelOutput
from sskd.models.registry import build_model, list_models, model_entry, register_model

__all__ = ["FeatureAdapter", "ModelOutput", "ZooNet", "build_model", "graph_node_names",
           "list_models", "model_entry", "register_model"]
