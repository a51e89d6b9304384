"""CRD's memory bank and negative sampler (Tian, Krishnan, Isola, "Contrastive Representation
Distillation", ICLR 2020), as the CRD benchmark codes it (BASELINES.md §4).

:class:`CRDMemory` holds one embedding per training image and side, ``memory_student`` and
``memory_teacher`` (``[N, feat_dim]``, initialised U(−σ, σ) with σ = 1/√(feat_dim/3), so rows
have roughly unit norm), and the two normalisation constants ``z_student`` and ``z_teacher``
(−1 until set). Its state is buffers only, so it is a network of the run and checkpoints hold
it. For a batch with data-set indices y ``[B]`` and unit embeddings v_s, v_t ``[B, feat_dim]``:

* ``sample(y)`` draws ``[B, K+1]`` memory indices, column 0 the positive. ``"exact"`` (the
  benchmark): the positive is y itself and the K negatives are drawn without replacement from
  the images of all other classes (with replacement only for a class whose pool is smaller
  than K). ``"relax"``: the positive is a random image of the same class. ``"uniform"`` (the
  benchmark's unused memory-sampled path): all K+1 uniformly over the N images, column 0 then
  set to y, so negatives may share the anchor's class or be the anchor.
* the student side scores v_s against the teacher memory and the teacher side v_t against the
  student memory: ``exp(⟨memory[idx], v⟩/τ) / Z``. Memory rows are detached: gradients reach
  only the embeddings. Each Z is set once, from the first batch ever, as
  mean(exp(·/τ))·N over that batch's ``[B, K+1]`` scores, then frozen.
* after scoring, without gradient: ``memory[y] ← normalize(m·memory[y] + (1−m)·v)`` (no eps).

Distributed training (``torch.distributed`` initialised; all of this is skipped without it):
every rank draws its own negatives, but the bank is the same everywhere. The first-batch Z
candidates are averaged over the ranks (all-reduce), and the momentum update uses the indices
and detached embeddings of every rank's batch (all-gather), applied in rank order, so each
rank makes the same updates in the same order. Batches must have the same size on every rank.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
from torch import Tensor, nn

MODES = ("exact", "relax", "uniform")
SCORE_PATHS = ("auto", "matmul", "gather")


def normalize_rows(x: Tensor) -> Tensor:
    """``x / ‖x‖₂`` row by row, with no eps (the CRD benchmark's ``Normalize``). ``[B, D]``."""
    return x / x.pow(2).sum(1, keepdim=True).sqrt()


def score_path(n_rows: int, n_cols: int, feat_dim: int) -> str:
    """``"matmul"`` (all N dot products, then a gather) when N < (K+1)·feat_dim, i.e. when
    reading the whole memory moves less data than gathering ``[B, K+1, feat_dim]`` rows;
    ``"gather"`` otherwise."""
    return "matmul" if n_rows < n_cols * feat_dim else "gather"


def memory_dots(anchor: Tensor, memory: Tensor, idx: Tensor, path: str = "auto") -> Tensor:
    """``⟨memory[idx[b, k]], anchor[b]⟩``: anchor ``[B, D]``, memory ``[N, D]`` (detached here),
    idx ``[B, M]`` → ``[B, M]``. ``path``: ``"matmul"`` computes ``anchor @ memoryᵀ``
    ``[B, N]`` and gathers; ``"gather"`` gathers the ``[B, M, D]`` rows; ``"auto"`` picks with
    :func:`score_path`. Both give the same values and anchor gradients."""
    if path not in SCORE_PATHS:
        raise ValueError(f"memory_dots: path must be one of {SCORE_PATHS}, got {path!r}")
    memory = memory.detach()
    if path == "auto":
        path = score_path(memory.shape[0], idx.shape[1], memory.shape[1])
    if path == "matmul":
        return (anchor @ memory.T).gather(1, idx)
    return torch.bmm(memory[idx], anchor.unsqueeze(2)).squeeze(2)


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _all_gather(t: Tensor) -> Tensor:
    """Every rank's ``t`` ``[B, ...]`` concatenated in rank order ``[W·B, ...]``; ``t`` alone
    without distributed training."""
    if not _distributed():
        return t
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


def _all_mean(t: Tensor) -> Tensor:
    if _distributed():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t = t / dist.get_world_size()
    return t


class CRDMemory(nn.Module):
    """The two memories, the two Z constants and the sampler (see the module docstring).

    ``labels``: int64 ``[N]``, the class of every training image (N = ``len(labels)``);
    ``feat_dim``, ``nce_k`` (K), ``nce_t`` (τ), ``nce_m`` (m), ``mode`` as in BASELINES.md §4.
    ``forward(v_s, v_t, indices)`` returns the student-side and teacher-side scores, both
    ``[B, K+1]``, and then updates the memory (in training mode only).
    """

    def __init__(self, labels: Tensor, feat_dim: int = 128, nce_k: int = 16384, nce_t: float = 0.07,
                 nce_m: float = 0.5, mode: str = "exact"):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"CRDMemory: mode must be one of {MODES}, got {mode!r}")
        labels = torch.as_tensor(labels, dtype=torch.int64).reshape(-1).cpu()
        n = labels.numel()
        if n == 0 or labels.min() < 0:
            raise ValueError("CRDMemory: labels must be a non-empty int tensor of classes >= 0")
        count = torch.bincount(labels)
        if mode != "uniform" and count.max() == n:
            raise ValueError(f"CRDMemory: mode {mode!r} draws negatives from the other classes, "
                             f"but all {n} training images have the same label")
        self.n_data, self.feat_dim, self.nce_k = n, feat_dim, nce_k
        self.nce_t, self.nce_m, self.mode = nce_t, nce_m, mode
        # Pools of other-class images: some rows may need K with replacement, some (K <= N) not.
        self._with_replacement = nce_k > n - int(count.max())
        self._without_replacement = nce_k <= n - int(count[count > 0].min())

        sigma = 1.0 / math.sqrt(feat_dim / 3)
        self.register_buffer("memory_student", torch.rand(n, feat_dim).mul_(2 * sigma).sub_(sigma))
        self.register_buffer("memory_teacher", torch.rand(n, feat_dim).mul_(2 * sigma).sub_(sigma))
        self.register_buffer("z_student", torch.tensor(-1.0))
        self.register_buffer("z_teacher", torch.tensor(-1.0))
        # Functions of the data, not state: rebuilt from the labels, not checkpointed.
        self.register_buffer("labels", labels, persistent=False)
        self.register_buffer("order", torch.argsort(labels, stable=True), persistent=False)
        self.register_buffer("class_count", count, persistent=False)
        self.register_buffer("class_start", torch.cumsum(count, 0) - count, persistent=False)
        self._z_pending = True  # whether Z may still be unset (checked once, without a host sync)

    def extra_repr(self) -> str:
        return (f"n_data={self.n_data}, feat_dim={self.feat_dim}, nce_k={self.nce_k}, nce_t={self.nce_t}, "
                f"nce_m={self.nce_m}, mode={self.mode!r}")

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._z_pending = True

    # -- sampling ---------------------------------------------------------------------------

    def sample(self, indices: Tensor) -> Tensor:
        """Memory indices ``[B, K+1]`` for the batch's data-set indices ``[B]``: column 0 the
        positive, columns 1…K the negatives (see the module docstring)."""
        b, k, device = indices.shape[0], self.nce_k, indices.device
        if self.mode == "uniform":
            idx = torch.randint(0, self.n_data, (b, k + 1), device=device)
            idx[:, 0] = indices
            return idx
        cls = self.labels[indices]
        positive = indices if self.mode == "exact" else self._same_class(cls)
        return torch.cat([positive.unsqueeze(1), self._other_classes(cls, k)], 1)

    def _same_class(self, cls: Tensor) -> Tensor:
        """One uniformly drawn image of each row's class ``[B]``."""
        count = self.class_count[cls]
        offset = (torch.rand(cls.shape, device=cls.device) * count).long().clamp_max_(count - 1)
        return self.order[self.class_start[cls] + offset]

    def _other_classes(self, cls: Tensor, k: int) -> Tensor:
        """K images of classes other than ``cls[b]`` per row ``[B, K]``: without replacement
        where the row's pool holds at least K images, with replacement otherwise."""
        distinct = replaced = None
        if self._without_replacement:
            # The K smallest of uniform keys, the anchor's class keyed out: K distinct images,
            # a uniformly random K-subset of the pool.
            keys = torch.rand(cls.shape[0], self.n_data, device=cls.device)
            keys.masked_fill_(self.labels.unsqueeze(0) == cls.unsqueeze(1), 2.0)
            distinct = keys.topk(k, dim=1, largest=False, sorted=False).indices
        if self._with_replacement:
            # Pool position j in [0, N − n_c) skips the anchor's class in the class-sorted order.
            count, start = self.class_count[cls].unsqueeze(1), self.class_start[cls].unsqueeze(1)
            pool = self.n_data - count
            j = (torch.rand(cls.shape[0], k, device=cls.device) * pool).long()
            j = torch.minimum(j, pool - 1)
            replaced = self.order[j + (j >= start) * count]
        if distinct is None:
            return replaced
        if replaced is None:
            return distinct
        small_pool = (self.n_data - self.class_count[cls] < k).unsqueeze(1)
        return torch.where(small_pool, replaced, distinct)

    # -- scoring and update -----------------------------------------------------------------

    def forward(self, v_s: Tensor, v_t: Tensor, indices: Tensor, path: str = "auto") -> tuple[Tensor, Tensor]:
        """Unit embeddings ``v_s``, ``v_t`` ``[B, feat_dim]`` and the batch's data-set indices
        ``[B]`` → student-side and teacher-side scores ``[B, K+1]`` (float32); then, in
        training mode, the momentum update of both memories."""
        idx = self.sample(indices)
        with torch.autocast(v_s.device.type, enabled=False):
            v_s, v_t = v_s.float(), v_t.float()
            path = score_path(self.n_data, idx.shape[1], self.feat_dim) if path == "auto" else path
            # The in-place update below would change what the matmul's backward reads.
            snapshot = path == "matmul" and self.training and torch.is_grad_enabled()
            m_t = self.memory_teacher.clone() if snapshot else self.memory_teacher
            m_s = self.memory_student.clone() if snapshot else self.memory_student
            e_s = torch.exp(memory_dots(v_s, m_t, idx, path) / self.nce_t)
            e_t = torch.exp(memory_dots(v_t, m_s, idx, path) / self.nce_t)
            if self._z_pending:
                self._set_z(e_s, e_t)
            scores = e_s / self.z_student, e_t / self.z_teacher
        if self.training:
            self.update(v_s, v_t, indices)
        return scores

    @torch.no_grad()
    def _set_z(self, e_s: Tensor, e_t: Tensor) -> None:
        """Z = mean(exp(·/τ))·N of this batch for each side that is still unset (ranks averaged)."""
        candidates = _all_mean(torch.stack([e_s.mean(), e_t.mean()]) * self.n_data)
        for z, new in ((self.z_student, candidates[0]), (self.z_teacher, candidates[1])):
            z.copy_(torch.where(z < 0, new, z))
        self._z_pending = False

    @torch.no_grad()
    def update(self, v_s: Tensor, v_t: Tensor, indices: Tensor) -> None:
        """``memory[y] ← normalize(m·memory[y] + (1−m)·v)`` for both sides, every rank's batch
        in rank order."""
        b = indices.shape[0]
        indices, v_s, v_t = _all_gather(indices), _all_gather(v_s.detach()), _all_gather(v_t.detach())
        m = self.nce_m
        for start in range(0, indices.shape[0], b):  # one block per rank
            y = indices[start:start + b]
            for memory, v in ((self.memory_student, v_s), (self.memory_teacher, v_t)):
                mixed = memory.index_select(0, y).mul_(m).add_(v[start:start + b].to(memory.dtype), alpha=1 - m)
                memory.index_copy_(0, y, normalize_rows(mixed))
