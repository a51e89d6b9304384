"""The relational losses in float32 under mixed precision: the value autocast would spoil (a
bfloat16 Gram or distance matrix) is the float32 one, and half-precision inputs are upcast."""

import pytest
import torch

from sine_inputs import S
from sskd.losses.at import at_loss
from sskd.losses.cc import cc_loss
from sskd.losses.nst import nst_loss
from sskd.losses.pkt import pkt_loss
from sskd.losses.precision import in_float32
from sskd.losses.rkd import rkd_loss
from sskd.losses.sp import sp_loss

CASES = {
    "at": (at_loss, lambda: ([S((8, 16, 8, 8), .011, .2)], [S((8, 32, 4, 4), .017, .4)])),
    "sp": (sp_loss, lambda: (S((8, 16, 8, 8), .011, .2), S((8, 32, 4, 4), .017, .4))),
    "nst": (nst_loss, lambda: ([S((8, 16, 8, 8), .011, .2)], [S((8, 32, 8, 8), .017, .4)])),
    "pkt": (pkt_loss, lambda: (S((8, 64), .13, .5), S((8, 128), .07, 1.1))),
    "rkd": (rkd_loss, lambda: (S((8, 64), .13, .5) + 3.0, S((8, 128), .07, 1.1) + 3.0)),
    "cc": (cc_loss, lambda: (S((8, 128), .05, .9), S((8, 128), .07, 1.1))),
}


def cast(args, dtype):
    return [cast(a, dtype) if isinstance(a, list) else a.to(dtype) for a in args]


@pytest.mark.parametrize("name", sorted(CASES))
def test_bfloat16_autocast_and_inputs_leave_the_float32_value(name):
    loss, inputs = CASES[name]
    rounded = cast(inputs(), torch.bfloat16)  # what a network under autocast hands over
    reference = loss(*cast(rounded, torch.float32))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        from_float32 = loss(*cast(rounded, torch.float32))
        from_bfloat16 = loss(*rounded)
    assert from_float32.dtype == from_bfloat16.dtype == torch.float32
    assert from_float32.item() == pytest.approx(reference.item(), rel=1e-6)
    assert from_bfloat16.item() == pytest.approx(reference.item(), rel=1e-6)


def test_half_precision_arguments_are_upcast_in_lists_too():
    seen = []

    @in_float32
    def probe(a, maps, b=None):
        seen.extend([a.dtype, maps[0].dtype, maps[1].dtype, b.dtype])
        return a

    probe(torch.zeros(1, dtype=torch.bfloat16), [torch.zeros(1, dtype=torch.float16), torch.zeros(1)],
          b=torch.zeros(1, dtype=torch.float64))
    assert seen == [torch.float32, torch.float32, torch.float32, torch.float64]
