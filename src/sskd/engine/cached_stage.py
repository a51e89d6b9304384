"""A cacheable stage inside a run (see :mod:`sskd.engine.stage_cache`): its key, the
cached network to reuse instead of training, or the entry to fill once it is trained."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from torch import nn

from sskd.config import RunConfig
from sskd.engine.distributed import DistInfo, broadcast_object
from sskd.engine.rundir import split_scores
from sskd.engine.stage_cache import StageCache, cache_directory, stage_cache_key


@dataclass
class CachedStage:
    """Stage ``index``'s entry in the stage cache; ``hit`` is its cached file, if any."""

    cache: StageCache
    index: int
    method: str
    key: dict[str, Any]
    hit: Optional[Path]

    @classmethod
    def find(cls, config: RunConfig, index: int, method, dist: DistInfo, data,
             lookup: bool) -> Optional["CachedStage"]:
        """The entry of stage ``index`` if its method is cacheable and caching is on, else
        None; ``hit`` is looked up only if ``lookup`` (decided on rank 0, broadcast so
        that every rank agrees). ``data`` is the run's :class:`sskd.engine.data.RunData`."""
        if not (method.cacheable and config.output.cache):
            return None
        cache = StageCache(cache_directory(config))
        fingerprint = {"root": str(Path(config.data.root).resolve()) if config.data.root else None,
                       "train_images": len(data.train), "num_classes": data.info.num_classes,
                       "class_names": list(data.info.class_names)}
        key = stage_cache_key(config, index, dist.world_size, dataclasses.asdict(method.hparams), fingerprint)
        name = config.stages[index].method
        hit = cache.lookup(name, key) if dist.is_main and lookup else None
        hit = broadcast_object(str(hit) if hit else None, dist)
        return cls(cache, index, name, key, Path(hit) if hit else None)

    def reuse(self, network: nn.Module, epochs: int) -> dict[str, Any]:
        """Load the cached weights into ``network``; returns the stage's summary entry."""
        meta = self.cache.load(self.hit, network)
        return {"cached_from": str(self.hit), "epochs": epochs, "scores": meta.get("scores", {})}

    def fill(self, network: nn.Module, teacher_checkpoint: Optional[str],
             chosen: Optional[dict[str, Any]]) -> None:
        """Save the trained ``network`` with the scores of the epoch it comes from."""
        self.cache.save(self.method, self.key, network,
                        {"teacher_checkpoint": teacher_checkpoint, "scores": split_scores(chosen)})
