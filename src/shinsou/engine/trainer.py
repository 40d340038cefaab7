"""The training loop, after torchvision's references/classification/train.py: `train_one_epoch()`,
`evaluate()`, `fit()`. Lightning Fabric is the one place that decides device and DDP (gloo on CPU)."""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

import torch
from lightning_fabric import Fabric
from torch import nn
from tqdm import tqdm

from shinsou.engine.checkpoint import (BEST, LAST, TRAIN_STATE, load_train_state, load_weights, save_train_state,
                                       save_weights, unwrap)
from shinsou.engine.evaluation import default_forward, evaluate, scalars as _scalars  # noqa: F401  (re-exported)
from shinsou.engine.options import PRECISIONS
from shinsou.errors import ConfigError, ShinsouError



def resolve_precision(precision: str, accelerator: str = "auto") -> str:
    """"auto": bf16 autocast where the hardware computes bf16 natively (CUDA with bf16, or a CPU with
    AVX512-BF16/AMX, where oneDNN runs convolutions about 1.5x faster), else full float32."""
    if precision != "auto":
        return precision
    if accelerator in ("auto", "cuda", "gpu") and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    cpu_bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)() or \
        getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    return "bf16-mixed" if cpu_bf16 else "32-true"


SCHEDULES = ("onecycle", "cosine", "constant")


def make_schedule(optimizer: torch.optim.Optimizer, kind: str, peak_lr: float, total_steps: int,
                  warmup: float = 0.15):
    """A per-step learning-rate schedule: one-cycle (warm up for `warmup` of the steps to `peak_lr`, then anneal),
    cosine annealing from the optimiser's rate, or None for a constant rate."""
    if kind == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peak_lr, total_steps=total_steps, pct_start=warmup)
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    return None


def make_fabric(devices: int = 1, accelerator: str = "auto", precision: str = "auto", loggers=None) -> Fabric:
    """One Fabric per run: CPU or CUDA picked automatically, precision as `resolve_precision` says;
    devices > 1 launches DDP processes (Fabric re-runs this command once per extra device; gloo on CPU)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r} (known: {', '.join(PRECISIONS)})")
    strategy = "ddp" if devices > 1 else "auto"
    # Fabric announces its precision on the root logger; each pipeline's own first line says it instead
    logging.getLogger("lightning_fabric").setLevel(logging.WARNING)
    fabric = Fabric(accelerator=accelerator, devices=devices, strategy=strategy,
                    precision=resolve_precision(precision, accelerator), loggers=loggers)
    fabric.launch()
    return fabric


def setup(fabric: Fabric, model: nn.Module, optimizer: torch.optim.Optimizer):
    """Move to the device in NHWC layout (channels_last: faster convolutions in oneDNN and cuDNN) and
    let Fabric wrap model and optimizer for its precision and strategy."""
    model = model.to(memory_format=torch.channels_last)
    return fabric.setup(model, optimizer)


def train_one_epoch(fabric: Fabric, model, optimizer, batches: Iterable, loss_fn, new_metric, forward=default_forward,
                    scheduler=None, description: str = "train") -> dict:
    """One pass over `batches`. `loss_fn(outputs, targets)` gives the loss; with `loss_fn=None` the model's forward
    returns it, as a scalar or a dict of named losses that are summed (torchvision's detection models do this)."""
    model.train()
    metric = new_metric() if new_metric is not None else None
    total_loss, seen = 0.0, 0
    parts: dict[str, float] = {}
    bar = tqdm(batches, desc=description, leave=False, disable=not fabric.is_global_zero or None, file=sys.stderr,
               dynamic_ncols=True)
    for step, batch in enumerate(bar):
        batch = fabric.to_device(batch)
        outputs, targets = forward(model, batch)
        loss = loss_of(outputs, targets, loss_fn)
        if not torch.isfinite(loss):
            raise ShinsouError(f"training diverged: the loss became {loss.item()} ({description}); try a lower --lr")
        optimizer.zero_grad(set_to_none=True)
        fabric.backward(loss)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        n = len(targets) if hasattr(targets, "__len__") else 1
        total_loss += loss.item() * n
        seen += n
        if isinstance(outputs, dict):  # named losses: each one's mean is reported beside the total
            for name, value in outputs.items():
                parts[name] = parts.get(name, 0.0) + float(value.detach()) * n
        elif metric is not None:
            with torch.no_grad():
                metric.update(outputs.detach(), targets)
        if step % 20 == 0 and not bar.disable:
            shown = {"loss": f"{total_loss / seen:.4f}"}
            if metric is not None and not parts:
                shown["acc"] = f"{metric.compute().get('accuracy', float('nan')):.4f}"
            bar.set_postfix(**shown)
    stats = {"loss": total_loss / max(seen, 1), **{k: v / max(seen, 1) for k, v in parts.items()}}
    if metric is not None and not parts:
        stats.update(_scalars(metric.compute()))
    return stats


def loss_of(outputs, targets, loss_fn) -> torch.Tensor:
    if loss_fn is not None:
        return loss_fn(outputs, targets)
    if isinstance(outputs, dict):
        return sum(outputs.values())
    return outputs


def fit(fabric: Fabric, model: nn.Module, optimizer: torch.optim.Optimizer, train_batches, val_batches, *,
        loss_fn: Callable, new_metric: Callable, epochs: int, run_dir: Path, scheduler=None,
        scheduler_per_step: bool = True, forward: Callable = default_forward, monitor: str = "accuracy",
        mode: str = "max", seed: int = 0, resume: bool = False, log: Callable[[str], None] | None = None,
        val_every: int = 1, tag: str = "") -> list[dict]:
    """Train for `epochs` epochs, validating after every `val_every`-th and the last; write last/best weights
    and the training state atomically at every epoch end, so `resume=True` continues a killed run where it
    stopped. Only validated epochs can become the best. Each epoch's scalars also go to Fabric's loggers
    (TensorBoard in RUN_DIR), under `tag/` when one run fits several models."""
    run_dir = Path(run_dir)
    log = log or (lambda line: print(line, file=sys.stderr))
    history: list[dict] = []
    best = -math.inf if mode == "max" else math.inf
    if resume:
        state = load_train_state(run_dir / TRAIN_STATE)
        load_weights(model, run_dir / LAST)
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        history, best = state["history"], state["best"]
        if fabric.is_global_zero:
            log(f"resuming {run_dir} after epoch {len(history)} of {epochs}")
    model, optimizer = setup(fabric, model, optimizer)
    for epoch in range(len(history), epochs):
        torch.manual_seed(seed * 1000 + epoch)  # dropout and the like repeat, resumed or not
        if hasattr(train_batches, "set_epoch"):
            train_batches.set_epoch(epoch)
        started = time.perf_counter()
        train_stats = train_one_epoch(fabric, model, optimizer, train_batches, loss_fn, new_metric, forward,
                                      scheduler if scheduler_per_step else None,
                                      description=f"epoch {epoch + 1}/{epochs}")
        if scheduler is not None and not scheduler_per_step:
            scheduler.step()
        if fabric.is_global_zero:
            # validation on rank 0 with the plain module (DDP collectives are not involved), at the training precision
            validate = bool(val_batches) and ((epoch + 1) % val_every == 0 or epoch + 1 == epochs)
            with fabric.autocast():
                val_stats = _scalars(evaluate(unwrap(model), val_batches, loss_fn, new_metric, forward)) if validate else {}
            seconds = time.perf_counter() - started  # training and validation
            record = {"epoch": epoch + 1, "seconds": round(seconds, 3), "lr": optimizer.param_groups[0]["lr"],
                      **{f"train_{k}": v for k, v in train_stats.items()},
                      **{f"val_{k}": v for k, v in val_stats.items()}}
            history.append(record)
            score = val_stats.get(monitor) if val_batches else train_stats.get(monitor)
            improved = score is not None and (score > best if mode == "max" else score < best)
            if improved:
                best = score
                save_weights(model, run_dir / BEST, metadata={"epoch": str(epoch + 1), monitor: f"{score:.6f}"})
            save_weights(model, run_dir / LAST, metadata={"epoch": str(epoch + 1)})
            save_train_state(run_dir / TRAIN_STATE, {
                "epoch": epoch + 1, "history": history, "best": best,
                "optimizer": unwrap_optimizer(optimizer).state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
            })
            fabric.log_dict({f"{tag}/{k}" if tag else k: v for k, v in record.items()
                             if k != "epoch" and isinstance(v, (int, float))}, step=epoch + 1)
            log(_epoch_line(record, epochs, monitor, improved))
        else:
            history.append({"epoch": epoch + 1})
        fabric.barrier()
    return history


def unwrap_optimizer(optimizer):
    return getattr(optimizer, "optimizer", optimizer)


def _epoch_line(record: dict, epochs: int, monitor: str, improved: bool) -> str:
    parts = [f"epoch {record['epoch']}/{epochs}", f"train loss {record['train_loss']:.4f}"]
    if f"train_{monitor}" in record and monitor != "loss":
        parts.append(f"train {monitor} {record[f'train_{monitor}']:.4f}")
    if "val_loss" in record and monitor != "loss":
        parts.append(f"val loss {record['val_loss']:.4f}")
    if f"val_{monitor}" in record:
        parts.append(f"val {monitor} {record[f'val_{monitor}']:.4f}" + (" *" if improved else ""))
    parts.append(f"{record['seconds']:.1f}s")
    return " | ".join(parts)
