"""Self-supervision heads and pretext tasks."""

from sskd.selfsup.head import PredictionHead, ProjectionHead
from sskd.selfsup.tasks import (PRETEXT_TASKS, PretextTask, build_pretext_task, list_pretext_tasks,
                                register_pretext_task)

__all__ = ["PRETEXT_TASKS", "PredictionHead", "PretextTask", "ProjectionHead", "build_pretext_task",
           "list_pretext_tasks", "register_pretext_task"]
