"""sskd: knowledge distillation with self-supervision (SSKD, HSSAKD) and the classic KD baselines."""

from sskd import data, models

__version__ = "0.1.0"
__all__ = ["data", "models", "__version__"]
