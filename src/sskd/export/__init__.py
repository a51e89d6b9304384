"""``sskd export``: a run's trained student alone, as ONNX, TorchScript or safetensors.

>>> from sskd.export import export_run
>>> export_run("runs/my-run", "onnx")          # runs/my-run/export/model.onnx
"""

from sskd.export.errors import ExportError
from sskd.export.exporter import FORMATS, export_run
from sskd.export.metadata import export_metadata

__all__ = ["FORMATS", "ExportError", "export_metadata", "export_run"]
