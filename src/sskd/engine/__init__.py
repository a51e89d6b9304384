"""The training engine: stages, evaluation, checkpoints, distributed runs, mixed precision."""

from sskd.engine.checkpoint import CheckpointError, load_pretrained, read_weights
from sskd.engine.run import format_summary, train
from sskd.engine.trainer import NonFiniteLossError

__all__ = ["CheckpointError", "NonFiniteLossError", "format_summary", "load_pretrained", "read_weights", "train"]
