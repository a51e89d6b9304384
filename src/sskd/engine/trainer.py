"""Runs one stage of a run: epochs of ``forward_train`` → summed loss → optimiser step,
then evaluation, metrics and a checkpoint. Knows nothing about any particular method."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from sskd.config import RunConfig
from sskd.data import make_views
from sskd.engine.distributed import DistInfo, all_reduce_sum, broadcast_buffers
from sskd.engine.evaluate import evaluate, evaluate_method
from sskd.engine.meter import DeviceMeter, topk_correct
from sskd.engine.optim import build_optimizer, stage_lr
from sskd.engine.progress import Progress
from sskd.engine.runtime import autocast, stage_epoch_seed, to_channels_last_views
from sskd.errors import UserError
from sskd.methods import Method


def frozen_state_names(method: Method) -> list[str]:
    """Qualified names of the parameters and buffers of the method's ``frozen`` networks:
    DistributedDataParallel neither syncs nor broadcasts them (the frozen teacher is the same
    checkpoint on every rank, and its buffers never change)."""
    frozen = {id(t) for name in method.frozen for t in (*getattr(method, name).parameters(),
                                                          *getattr(method, name).buffers())}
    named = [*method.named_parameters(), *method.named_buffers()]
    return [name for name, tensor in named if id(tensor) in frozen]


class NonFiniteLossError(UserError, RuntimeError):
    """A loss became NaN or infinite; the run stopped without checkpointing past it."""


@dataclass
class StageEnv:
    """Everything a stage needs from the run around it."""

    config: RunConfig
    stage_index: int
    device: torch.device
    dist: DistInfo
    train_loader: Any
    eval_loaders: dict[str, Any]
    mean: tuple
    std: tuple
    crop_padding: int
    progress: Progress


class StageRunner:
    """Trains ``method`` for the epochs of ``env.config.stages[env.stage_index]``."""

    def __init__(self, method: Method, env: StageEnv):
        self.method = method
        self.env = env
        self.stage = env.config.stages[env.stage_index]
        speed = env.config.speed
        self.params = list(method.trainable_parameters())
        if not self.params:
            raise ValueError(f"stage {self.stage.name!r}: method {self.stage.method!r} has nothing to train")
        if len(env.train_loader) == 0:
            raise ValueError(f"stage {self.stage.name!r}: no training batch — {len(env.train_loader.dataset)} "
                             f"training images per process with batch {env.config.data.batch_size}"
                             f"{' and drop_last' if env.config.data.drop_last else ''}")
        self.optimizer = build_optimizer(self.stage, self.params,
                                         fused=speed.fused_optimizer and env.device.type == "cuda")
        self.scaler = torch.amp.GradScaler(env.device.type, enabled=speed.amp == "fp16")
        model: nn.Module = method
        if env.dist.enabled:
            ids = [env.device.index] if env.device.type == "cuda" else None
            nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(
                method, frozen_state_names(method))
            model = nn.parallel.DistributedDataParallel(
                method, device_ids=ids, find_unused_parameters=method.leaves_parameters_unused())
        if speed.compile:
            model = torch.compile(model, mode=speed.compile_mode)
        self.train_model = model
        self.maker = make_views(method.views, mean=env.mean, std=env.std, train=True,
                                crop_padding=env.crop_padding)
        self.test_maker = make_views("standard", mean=env.mean, std=env.std, train=False)
        self.method_maker = (make_views(method.eval_views, mean=env.mean, std=env.std, train=False)
                             if method.eval_views else None)
        # Mid-epoch host syncs only while someone watches: at most one per logging interval.
        self.check_in_epoch = env.config.output.progress != "none"
        self.frozen_scores: dict[str, dict[str, float]] = {}

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])

    def run(self, start_epoch: int, on_epoch_end: Callable[[int, dict[str, Any]], None]) -> None:
        """Train epochs ``start_epoch..epochs-1``; ``on_epoch_end(epoch, record)`` after each."""
        for epoch in range(start_epoch, self.stage.epochs):
            record = self.train_epoch(epoch)
            record.update(self.evaluate_epoch(self.env.eval_loaders))
            on_epoch_end(epoch, record)

    def evaluate_epoch(self, loaders: dict[str, Any]) -> dict[str, float]:
        """``{"<split>/<score>": value}`` after an epoch: the stage's network on each split,
        and the method's own metrics (:meth:`Method.eval_metrics`) if it has any."""
        network = self.method.eval_network()
        # Evaluate, on every process, the BatchNorm statistics that rank 0 saves.
        broadcast_buffers(self.method, self.env.dist)
        record = {}
        for split, loader in loaders.items():
            scores = dict(self._network_scores(network, split, loader))
            if self.method_maker is not None:
                scores.update(evaluate_method(self.method, loader, self.method_maker, self.env.device,
                                              self.env.config.speed, self.env.dist))
            record.update({f"{split}/{k}": v for k, v in scores.items()})
        return record

    def train_step(self, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor,
                   generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        """One optimiser step on a loader batch (uint8 ``[B, 3, H, W]``, labels ``[B]``, data-set
        indices ``[B]``): views, forward, summed loss, backward, step. Returns the logits on the
        normal views ``[B, K]``, the weighted loss terms and their sum (device tensors)."""
        device, speed = self.env.device, self.env.config.speed
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        batch = self.maker(images, labels, generator)._replace(indices=indices.to(device, non_blocking=True))
        if speed.channels_last:
            batch = batch._replace(views=to_channels_last_views(batch.views))
        with autocast(device, speed):
            logits, losses = self.train_model(batch)
        total = torch.stack([v.float() for v in losses.values()]).sum()
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return logits, losses, total

    def _network_scores(self, network: nn.Module, split: str, loader) -> dict[str, float]:
        """Test scores of the stage's network; a frozen one (a teacher-side stage's teacher)
        is evaluated once per stage, since it cannot change."""
        if split in self.frozen_scores:
            return self.frozen_scores[split]
        scores = evaluate(network, loader, self.test_maker, self.env.device, self.env.config.speed, self.env.dist)
        if self.method.evaluates_frozen_network():
            self.frozen_scores[split] = scores
        return scores

    def train_epoch(self, epoch: int) -> dict[str, Any]:
        env, stage, device = self.env, self.stage, self.env.device
        lr = stage_lr(stage, epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        seed = stage_epoch_seed(env.config.stage_seed(env.stage_index), env.stage_index, epoch, env.dist.rank)
        torch.manual_seed(seed)
        generator = torch.Generator(device=device).manual_seed(seed)
        # Same order on every rank (each takes its own shard), fresh for every stage and epoch.
        env.train_loader.set_epoch(stage_epoch_seed(env.config.stage_seed(env.stage_index), env.stage_index, epoch, 0))
        self.method.train()
        meter = DeviceMeter(device)
        first_bad = torch.full((), -1, dtype=torch.int64, device=device)
        bad_terms: dict[str, torch.Tensor] = {}
        total_steps = len(env.train_loader)
        env.progress.start(f"[{stage.name}] epoch {epoch + 1}/{stage.epochs}", total_steps)
        start = time.perf_counter()
        step = 0
        for step, (images, labels, indices) in enumerate(env.train_loader, 1):
            labels = labels.to(device, non_blocking=True)
            logits, losses, total = self.train_step(images, labels, indices, generator)
            n = labels.shape[0]
            for name, value in losses.items():
                meter.add(f"train/{name}", value.float(), n)
                finite = torch.isfinite(value.detach())
                bad_terms[name] = bad_terms[name] | ~finite if name in bad_terms else ~finite
            meter.add("train/loss", total, n)
            meter.add("train/top1", topk_correct(logits.detach().float(), labels, (1,))[0], 100.0)
            meter.add_count(n)
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(total.detach()),
                                    torch.full_like(first_bad, step), first_bad)
            if step == total_steps or (self.check_in_epoch and step % env.config.output.log_every == 0):
                loss_now = self._stop_if_nonfinite(first_bad, bad_terms, epoch, total)  # the one host sync
                if env.progress.wants(step):
                    env.progress.step(step, {"loss": loss_now, "lr": lr})
        env.progress.end()
        elapsed = time.perf_counter() - start
        record = {"stage": stage.name, "stage_index": env.stage_index, "epoch": epoch + 1, "lr": lr}
        means = meter.means(env.dist)
        images_seen = means.pop("n")
        record.update(means)
        record["time_s"] = elapsed
        record["images_per_s"] = images_seen / elapsed if elapsed > 0 else float("nan")
        return record

    def _stop_if_nonfinite(self, first_bad: torch.Tensor, bad_terms: dict[str, torch.Tensor],
                           epoch: int, total: torch.Tensor) -> float:
        """Raise :class:`NonFiniteLossError` if a step of any rank had a non-finite loss;
        else return this step's loss, read in the same host sync."""
        flag_and_loss = torch.stack([(first_bad >= 0).to(torch.float32), total.detach().float()])
        all_reduce_sum(flag_and_loss[:1], self.env.dist)
        flag, loss_now = flag_and_loss.tolist()
        if flag == 0:
            return loss_now
        names = [k for k, v in bad_terms.items() if bool(v)]
        where = f"step {int(first_bad)}" if int(first_bad) >= 0 else "a step on another process"
        raise NonFiniteLossError(
            f"stage {self.stage.name!r}, epoch {epoch + 1}, {where}: the loss became non-finite "
            f"(term(s): {', '.join(names) or 'total'}). Stopped; the last good checkpoint is kept. "
            f"Try a lower learning rate or speed.amp=none.")
