"""The layer table of any model, read off a real forward pass with hooks (as torchinfo/torchsummary do):
kernel, stride, output shape, parameters and multiply-adds per layer (conv: Cout*Hout*Wout*Cin/groups*kh*kw)."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shinsou.errors import ConfigError, unknown_name

# Modules shown as one row although they have children: their inner layers are an implementation detail.
BLOCK_CLASS_NAMES = {"MessagePassing", "MultiheadAttention"}


# --------------------------------------------------------------------------------------------------- the result
@dataclass
class LayerRow:
    name: str  # qualified module name, e.g. "conv.0"
    type: str  # class name, e.g. "Conv2d"
    kernel: str = ""
    stride: str = ""
    input_shape: Any = None  # shape of the first tensor argument (list of ints)
    output_shape: Any = None  # shape of the (first) output tensor
    output_shapes: Any = None  # every output, nested as the module returned them
    params: int = 0
    trainable: str = "-"  # yes / no / part / - (no parameters)
    macs: int = 0
    shared: bool = False  # a module called again: its parameters were counted at its first call

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class ModelTrace:
    model: str
    input: Any  # shape of the input tensor, or a description of a non-tensor input (a graph)
    input_source: str  # where the input came from: example_input(), input_size, --input-size
    rows: list[LayerRow] = field(default_factory=list)
    output: Any = None
    total_params: int = 0
    trainable_params: int = 0
    total_macs: int = 0

    def as_dict(self) -> dict:
        return {"model": self.model, "input": self.input, "input_source": self.input_source,
                "layers": [r.as_dict() for r in self.rows], "output": self.output,
                "total_params": self.total_params, "trainable_params": self.trainable_params,
                "total_macs": self.total_macs}


# -------------------------------------------------------------------------------------------- shapes and counts
def shape_of(value: Any) -> Any:
    """Tensor -> [dims]; tuples/lists/dicts -> the same nesting of shapes; other objects -> a short description."""
    if isinstance(value, torch.Tensor):
        return list(value.shape)
    if isinstance(value, (tuple, list)):
        return [shape_of(v) for v in value]
    if isinstance(value, dict):
        return {str(k): shape_of(v) for k, v in value.items()}
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        items = value
    elif isinstance(value, dict):
        items = list(value.values())
    else:
        items = [getattr(value, "x", None)]  # a PyG Data/Batch: its node features
    for item in items:
        found = first_tensor(item) if item is not None else None
        if found is not None:
            return found
    return None


def count_tensors(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        return 1
    if isinstance(value, (tuple, list)):
        return sum(count_tensors(v) for v in value)
    if isinstance(value, dict):
        return sum(count_tensors(v) for v in value.values())
    return 0


def multiply_adds(module: nn.Module, args: tuple, output: Any) -> int:
    """Multiply-adds of one call of `module` itself (children are counted where they run); bias additions,
    normalisation, pooling, activations and graph message aggregation count 0, as is the convention."""
    out = first_tensor(output)
    x = first_tensor(args)
    if out is None:
        return 0
    if isinstance(module, nn.modules.conv._ConvTransposeNd) and x is not None:
        # every input value is scattered through a (Cout/groups, kh, kw) slice of the kernel
        return x.numel() * (module.out_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.modules.conv._ConvNd):
        # each output value is a sum over Cin/groups * kh * kw products
        return out.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return out.numel() * module.in_features
    if type(module).__name__ == "Linear" and isinstance(getattr(module, "in_channels", None), int):
        return out.numel() * module.in_channels  # torch_geometric's Linear (inside graph convolutions)
    if isinstance(module, nn.Bilinear):
        return out.numel() * module.in1_features * module.in2_features
    if isinstance(module, nn.RNNBase) and x is not None and x.dim() in (2, 3):
        gates = {"LSTM": 4, "GRU": 3}.get(module.mode, 1)
        steps = x.numel() // x.shape[-1]  # batch * sequence length
        directions = 2 if module.bidirectional else 1
        total = 0
        for layer in range(module.num_layers):
            n_in = module.input_size if layer == 0 else module.hidden_size * directions
            total += gates * module.hidden_size * (n_in + module.hidden_size)
        return steps * directions * total
    return 0


def kernel_text(module: nn.Module) -> str:
    """'5x5', '3x3 pad 1', or for a linear layer 'in→out' features."""
    if isinstance(module, nn.Linear):
        return f"{module.in_features}→{module.out_features}"
    size = getattr(module, "kernel_size", None)
    if size is None:
        return ""
    if isinstance(size, int):
        dims = 2 if "2d" in type(module).__name__ else 3 if "3d" in type(module).__name__ else 1
        size = (size,) * dims
    text = "x".join(map(str, size))
    padding = getattr(module, "padding", 0)
    if isinstance(padding, str):
        return f"{text} pad {padding}"
    pads = padding if isinstance(padding, (tuple, list)) else (padding,)
    if any(pads):
        text += f" pad {pads[0]}" if len(set(pads)) == 1 else f" pad {'x'.join(map(str, pads))}"
    return text


def stride_text(module: nn.Module) -> str:
    stride = getattr(module, "stride", None)
    if stride is None or not hasattr(module, "kernel_size"):
        return ""
    strides = stride if isinstance(stride, (tuple, list)) else (stride,)
    return str(strides[0]) if len(set(strides)) == 1 else "x".join(map(str, strides))


def _is_block(module: nn.Module) -> bool:
    return any(c.__name__ in BLOCK_CLASS_NAMES for c in type(module).__mro__)


def _trainable(params: list[nn.Parameter]) -> str:
    if not params:
        return "-"
    flags = {p.requires_grad for p in params}
    return "part" if len(flags) == 2 else ("yes" if flags == {True} else "no")


# ------------------------------------------------------------------------------------------------------ tracing
@dataclass
class _Frame:
    module: nn.Module
    row: LayerRow | None
    collapses: bool  # its descendants belong to its row
    child_macs: int = 0


def trace_model(model: nn.Module, example: Any, label: str = "model", input_source: str = "") -> ModelTrace:
    """Run `model` once on `example` (a tensor, a tuple of arguments, a dict of keyword arguments or any
    object the model takes) with hooks on every module, and return one row per layer call, in call order.

    A row is a leaf module (no children), a block (graph convolution, attention), or a container that owns
    parameters directly (those parameters only). Totals come from model.parameters(), not from the rows."""
    names = {m: n for n, m in model.named_modules()}
    trace = ModelTrace(model=label, input=shape_of(example), input_source=input_source)
    stack: list[_Frame] = []
    seen_params: set[int] = set()
    handles = []

    def pre_hook(module, args):
        inside_block = any(f.collapses for f in stack)
        has_children = next(module.children(), None) is not None
        row = None
        collapses = False
        if not inside_block:
            if not has_children or _is_block(module):
                params = list(module.parameters())
                row, collapses = LayerRow(names[module] or "(model)", type(module).__name__), True
            elif next(module.parameters(recurse=False), None) is not None:
                params = list(module.parameters(recurse=False))
                row = LayerRow((names[module] or "(model)") + " (own parameters)", type(module).__name__)
            if row is not None:
                new = [p for p in params if id(p) not in seen_params]
                row.shared = bool(params) and not new
                row.params = sum(p.numel() for p in new)
                row.trainable = _trainable(params)
                seen_params.update(id(p) for p in params)
                row.kernel, row.stride = kernel_text(module), stride_text(module)
                trace.rows.append(row)
        stack.append(_Frame(module, row, collapses))

    def post_hook(module, args, output):
        frame = stack.pop()
        own = multiply_adds(module, args, output)
        total = own + frame.child_macs
        if stack:
            stack[-1].child_macs += total
        trace.total_macs += own
        if frame.row is not None:
            row = frame.row
            row.macs = total if frame.collapses else own
            x = first_tensor(args)
            row.input_shape = list(x.shape) if x is not None else None
            out = first_tensor(output)
            row.output_shape = list(out.shape) if out is not None else None
            row.output_shapes = shape_of(output)

    for module in model.modules():
        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(post_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            output = call_model(model, example)
    except Exception as e:  # the input does not fit the model: say which, in one line
        message = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ConfigError(f"{label}: the forward pass on input {trace.input} failed "
                          f"({e.__class__.__name__}: {message}); give another --input-size") from None
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    trace.output = shape_of(output)
    unique = {id(p): p for p in model.parameters()}
    trace.total_params = sum(p.numel() for p in unique.values())
    trace.trainable_params = sum(p.numel() for p in unique.values() if p.requires_grad)
    unused = [p for i, p in unique.items() if i not in seen_params]
    if unused:
        trace.rows.append(LayerRow("(modules not called in forward)", "-", params=sum(p.numel() for p in unused),
                                   trainable=_trainable(unused)))
    return trace


def call_model(model: nn.Module, example: Any) -> Any:
    if isinstance(example, tuple):
        return model(*example)
    if isinstance(example, dict):
        return model(**example)
    return model(example)


# ---------------------------------------------------------------------------------------------- model and input
def parse_input_size(text: str, model: nn.Module | None = None) -> tuple[int, ...]:
    """'3x224x224' -> (3, 224, 224); 'HxW' or 'N' take the channels from the model's first convolution."""
    parts = re.split(r"[x×,\s]+", text.strip().lower())
    if not parts or not all(p.isdigit() and int(p) > 0 for p in parts) or len(parts) > 4:
        raise ConfigError(f"--input-size {text!r}: expected CxHxW such as 3x224x224 (positive whole numbers)")
    dims = tuple(int(p) for p in parts)
    if len(dims) == 1:
        dims = (dims[0], dims[0])
    if len(dims) == 2:
        dims = (input_channels(model) if model is not None else 1, *dims)
    return dims


def input_channels(model: nn.Module) -> int:
    """The channels a model's first convolution takes (its in_channels attribute, else 1)."""
    channels = getattr(model, "in_channels", None)
    if isinstance(channels, int):
        return channels
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            return module.in_channels
    return 1


def model_input(model: nn.Module, input_size: str | None = None) -> tuple[Any, str]:
    """The forward input for tracing: --input-size, else model.example_input(), else zeros of model.input_size."""
    if input_size:
        return torch.zeros(1, *parse_input_size(input_size, model)), "--input-size"
    maker = getattr(model, "example_input", None)
    if callable(maker):
        return maker(), "example_input()"
    size = getattr(model, "input_size", None)
    if isinstance(size, int):
        size = (size, size)
    if isinstance(size, (tuple, list)) and all(isinstance(s, int) for s in size) and 2 <= len(size) <= 4:
        dims = (input_channels(model), *size) if len(size) == 2 else tuple(size[-3:])
        return torch.zeros(1, *dims), "input_size"  # (1, C, H, W)
    raise ConfigError(f"{type(model).__name__} says neither input_size nor example_input(); "
                      "give --input-size CxHxW (e.g. 3x224x224)")


def load_target(target: str, options: dict[str, Any] | None = None) -> tuple[nn.Module, str]:
    """A model name of shinsou.models.MODELS (built with default options plus `options`) or a run directory."""
    from shinsou.engine.config import CONFIG_FILE
    from shinsou.models import MODELS, build_model

    options = options or {}
    is_run = (Path(target) / CONFIG_FILE).is_file()
    if is_run or (target not in MODELS and (Path(target).is_dir() or os.sep in target or target.startswith("."))):
        if options:
            raise ConfigError("--option applies to model names; a run directory rebuilds its model from config.yaml")
        from shinsou.api import load

        predictor = load(target)
        model = getattr(predictor, "model", None)
        if not isinstance(model, nn.Module):
            raise ConfigError(f"{target}: a {predictor.config.get('pipeline')} run has no single network to show")
        return model, f"{target} ({predictor.config.get('model', '?')})"
    if target not in MODELS:
        raise unknown_name("model", target, MODELS)
    try:
        return build_model(target, **options), target
    except (TypeError, ValueError) as e:
        if not options:
            raise  # a builder that fails on its own defaults is a bug, not a user error
        raise ConfigError(f"model {target!r}: bad --option ({e})") from None
