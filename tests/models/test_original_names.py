"""State-dict keys and shapes equal those of the original benchmark code.

Each fingerprint is the first 16 hex digits of the SHA-256 of the lines
``"<key> <shape tuple>"`` (state-dict order) of the CRD/RepDistiller model with 100
classes, computed once from that repository's ``models/`` code. Equal fingerprints mean
a checkpoint saved by that code (or by SSKD, which uses the same models) loads into ours
with ``strict=True`` and in the same order.
"""

import hashlib

import pytest

from sskd.models import build_model

REPDISTILLER_FINGERPRINTS = {
    "resnet8": "b0d6b90b7f82eae7", "resnet14": "09b9f32bbe1fd323", "resnet20": "d62528ebf09500ac",
    "resnet32": "871c1b2d9e39d361", "resnet44": "e3f9bc0daaf54a9b", "resnet56": "7d3a91d4a8b97b8c",
    "resnet110": "471c41f07af2c39c", "resnet8x4": "a04332a459ae1465", "resnet32x4": "24fbb1ea1d0f23f9",
    "wrn_16_1": "413afade7e8fc41a", "wrn_16_2": "5994bb013d98efa7", "wrn_40_1": "c785d10f458c7b05",
    "wrn_40_2": "9a74d15007bab65e", "vgg8": "fdc773ff39915584", "vgg11": "0b9551ef3480a6ce",
    "vgg13": "bf74037647da8d81", "vgg16": "a8f839524d333b8f", "vgg19": "d9c51211c54c99e1",
    "MobileNetV2": "68a2c5f51e5cea07", "ShuffleV1": "a2ef493a832e640c", "ShuffleV2": "577996dd44e66b38",
    "ResNet50": "d22cdf0e7420b1ea",
}


def fingerprint(model) -> str:
    text = "\n".join(f"{k} {tuple(v.shape)}" for k, v in model.state_dict().items())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", sorted(REPDISTILLER_FINGERPRINTS))
def test_state_dict_layout_equals_the_original(name):
    assert fingerprint(build_model(name, num_classes=100)) == REPDISTILLER_FINGERPRINTS[name]
