"""Self-supervision heads and pretext tasks."""

from sskd.selfsup.head import ProjectionHead

__all__ = ["ProjectionHead"]
