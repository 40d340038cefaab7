"""The traffic pipeline's options: T-GCN (Zhao et al. 2019) forecasting road speeds from a window of past readings,
on the built-in simulator or on files (shinsou's CSV layout, METR-LA/PEMS-BAY); one `shinsou train traffic` flag each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from shinsou.engine.options import PRECISIONS, CommonConfig, option

TRAFFIC_MODELS = ("tgcn",)  # the traffic models of shinsou.models.MODELS (not imported here: it pulls in torch)


@dataclass
class Config(CommonConfig):
    """Train a spatio-temporal GCN (T-GCN) to forecast road speeds; prints its test MAE beside the two baselines."""

    main_metric: ClassVar[str] = "mae"

    data: str | None = option(None, "A folder with nodes.csv (id[,x,y]), edges.csv (source,target,length) and "
                              "readings.csv (timestamp,node,value); or a METR-LA/PEMS-BAY folder (speed table .csv, or "
                              ".h5 with PyTables, plus the from,to,cost distances CSV); or the speed table itself. "
                              "Default: the built-in simulator.")
    distances: str | None = option(None, "The DCRNN sensor-distance CSV (from,to,cost) for a speed table given as "
                                   "--data FILE.")
    model: str = option("tgcn", "Forecasting model (tgcn: GCN gates inside a GRU, Zhao et al. 2019).",
                        choices=TRAFFIC_MODELS)
    window: int = option(12, "Past readings the model sees per forecast (12 = one hour of 5-minute readings).")
    horizon: int = option(12, "Readings to forecast (12 = the next hour).")
    hidden: int = option(64, "GRU state size per node.")
    root_weight: bool = option(True, "Give each node's own state a weight apart from its neighbourhood's in every "
                               "graph convolution (off = the paper's plain GCN gates).")
    graph: bool = option(True, "--no-graph hides the road network from the model (an ablation: a GRU per node), to "
                         "measure what the graph adds.")
    epochs: int = option(12, "Epochs to train.")
    batch_size: int = option(32, "Windows per step and process.")
    lr: float = option(0.003, "Adam's learning rate at the start of the cosine schedule.")
    weight_decay: float = option(0.0, "Adam's L2 weight decay.")
    val_fraction: float = option(0.1, "Share of the series (whole days from 10 days on), just before the test span, "
                                 "held out for validation.")
    test_fraction: float = option(0.2, "Share of the series at its end held out for testing (chronological, as "
                                  "DCRNN splits METR-LA).")
    seed: int = option(0, "Seed for initialisation and shuffling.")
    sim_nodes: int = option(36, "Simulator (no --data): intersections in the network (as `shinsou data make-traffic`).")
    sim_days: int = option(28, "Simulator: days of 5-minute readings (the last 20% are held out).")
    sim_seed: int = option(0, "Simulator: seed of the network and its traffic.")
    precision: str = option("32-true", "32-true (bf16 autocast gave no speed-up here and a recurrent regression wants "
                            "the digits), auto (bf16 autocast where the hardware has it), bf16-mixed or 16-mixed.",
                            choices=PRECISIONS)
