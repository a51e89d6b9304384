"""FT's two adapters (Kim et al., NeurIPS 2018), as the CRD benchmark builds them (BASELINES.md
§3): the paraphraser, an auto-encoder of the teacher's last map whose code is the teacher's
factor, and the translator, which maps the student's last map onto a factor. Every conv is
3×3, stride 1, padding 1, with bias, followed by LeakyReLU(0.1)."""

from __future__ import annotations

from torch import Tensor, nn

#: The factor has ``int(C_t · k)`` channels, k = 0.5.
FACTOR_RATE = 0.5


def factor_channels(teacher_channels: int) -> int:
    return int(teacher_channels * FACTOR_RATE)


def _conv(c_in: int, c_out: int, transposed: bool = False, bn: bool = False) -> list[nn.Module]:
    conv = (nn.ConvTranspose2d if transposed else nn.Conv2d)(c_in, c_out, 3, stride=1, padding=1)
    return [conv, *([nn.BatchNorm2d(c_out)] if bn else []), nn.LeakyReLU(0.1, inplace=True)]


class Paraphraser(nn.Module):
    """No BatchNorm. ``encoder``: ``[B, C, H, W] → [B, C/2, H, W]`` (C→C, C→C/2, C/2→C/2);
    ``decoder``: back to ``[B, C, H, W]`` (transposed C/2→C/2, C/2→C, C→C, the last one
    followed by LeakyReLU too). ``forward`` gives the reconstruction."""

    def __init__(self, channels: int):
        super().__init__()
        half = factor_channels(channels)
        self.factor_channels = half
        self.encoder = nn.Sequential(*_conv(channels, channels), *_conv(channels, half), *_conv(half, half))
        self.decoder = nn.Sequential(*_conv(half, half, transposed=True), *_conv(half, channels, transposed=True),
                                     *_conv(channels, channels, transposed=True))

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))


def translator(student_channels: int, out_channels: int) -> nn.Sequential:
    """``[B, C_s, H, W] → [B, C_f, H, W]``: conv C_s→C_s, C_s→C_f, C_f→C_f, each followed by
    BatchNorm and LeakyReLU(0.1); ``C_f`` is the paraphraser's factor width."""
    return nn.Sequential(*_conv(student_channels, student_channels, bn=True),
                         *_conv(student_channels, out_channels, bn=True),
                         *_conv(out_channels, out_channels, bn=True))
