"""A road-traffic simulator, the embedded default data: a jittered street grid (nodes = intersections with a speed
sensor, edges = road segments with a length), two daily rush hours, congestion that spills back along edges, incidents, noise."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from shinsou.traffic.data import RoadNetwork, TrafficData, segment_weights


@dataclass
class SimulatorConfig:
    nodes: int = 36
    days: int = 28
    step_minutes: int = 5
    seed: int = 0
    start: str = "2024-01-01"  # a Monday; weekends are lighter and have no rush hours
    spacing_km: float = 1.2  # distance between neighbouring intersections before jitter
    incidents_per_day: float = 10.0  # expected incidents (crashes, breakdowns, lane closures) on a weekday, network-wide
    coupling: float = 0.95  # share of a neighbour's queue (times exp(-length / 4 km)) that spills back
    noise_kmh: float = 1.5  # sensor noise (white) on top of a slowly drifting per-sensor error


@dataclass
class Simulation:
    data: TrafficData
    congestion: np.ndarray  # (T, N) in 0..1, the hidden state that sets the speeds
    incidents: list[dict] = field(default_factory=list)  # node, start, minutes, capacity_factor


def _gauss(h: np.ndarray | float, mean: float, sd: float):
    return np.exp(-0.5 * ((h - mean) / sd) ** 2)


def _connected(n: int, edges: list[tuple[int, int]]) -> bool:
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in edges:
        parent[find(a)] = find(b)
    return len({find(i) for i in range(n)}) == 1


def make_network(n: int, spacing_km: float, rng: np.random.Generator) -> RoadNetwork:
    """A jittered rows x cols grid of `n` intersections; ~15% of the grid streets removed (staying connected)
    and a few diagonal avenues added; a segment's length is the straight distance times a small detour factor."""
    if n < 2:
        raise ValueError("a road network needs at least 2 nodes")
    rows = max(1, int(math.floor(math.sqrt(n))))
    cols = -(-n // rows)
    cells = [(r, c) for r in range(rows) for c in range(cols)][:n]
    index = {cell: i for i, cell in enumerate(cells)}
    pos = np.array([(c, r) for r, c in cells], dtype=np.float64) * spacing_km
    pos += rng.normal(0, 0.18 * spacing_km, size=pos.shape)
    grid = [(index[(r, c)], index[(r + dr, c + dc)]) for (r, c) in cells for dr, dc in ((0, 1), (1, 0))
            if (r + dr, c + dc) in index]
    edges = list(grid)
    for e in [grid[i] for i in rng.permutation(len(grid))]:
        if rng.random() < 0.15 and _connected(n, [x for x in edges if x != e]):
            edges.remove(e)
    for (r, c) in cells:
        if (r + 1, c + 1) in index and rng.random() < 0.12:
            edges.append((index[(r, c)], index[(r + 1, c + 1)]))
    edges_arr = np.array(sorted(edges), dtype=np.int64)  # (E, 2)
    lengths = np.linalg.norm(pos[edges_arr[:, 0]] - pos[edges_arr[:, 1]], axis=1) * rng.uniform(1.0, 1.25, len(edges_arr))
    lengths = np.round(lengths, 3)
    return RoadNetwork(node_ids=[f"s{i:02d}" for i in range(n)], positions=np.round(pos, 3), edges=edges_arr,
                       lengths=lengths, weights=segment_weights(lengths), directed=False)


def simulate(cfg: SimulatorConfig | None = None, **overrides) -> Simulation:
    """Simulate `cfg.days` days of speeds (km/h) every `cfg.step_minutes` minutes; the same seed gives the same data."""
    cfg = replace(cfg or SimulatorConfig(), **overrides)
    if cfg.days < 1 or cfg.step_minutes < 1 or 1440 % cfg.step_minutes:
        raise ValueError("days must be >= 1 and step_minutes must divide a day")
    rng = np.random.default_rng(cfg.seed)
    net = make_network(cfg.nodes, cfg.spacing_km, rng)
    n = cfg.nodes
    steps_per_day = 1440 // cfg.step_minutes
    total = cfg.days * steps_per_day
    timestamps = pd.date_range(cfg.start, periods=total, freq=f"{cfg.step_minutes}min")

    # node character: a few bottlenecks, most of them central, where rush-hour demand exceeds capacity; elsewhere
    # traffic flows on its own and jams when a queue spills back from a neighbour (or an incident blocks the road)
    centre = net.positions.mean(0)
    radius = np.linalg.norm(net.positions - centre, axis=1)
    radius = radius / max(radius.max(), 1e-9)  # (N,) 0 at the centre, 1 at the edge
    free_speed = np.clip(45 + 45 * radius + rng.normal(0, 5, n), 35, 110)  # km/h
    lean = rng.uniform(-1, 1, n)  # > 0: busier inbound in the morning, < 0: outbound in the evening
    busy = 0.6 + 0.3 * (1 - radius) + rng.uniform(-0.05, 0.05, n)
    morning, evening = busy * (1 + 0.3 * lean), busy * (1 - 0.3 * lean)
    bottleneck = rng.random(n) < np.clip(0.1 + 0.35 * (1 - radius), 0, 1)
    bottleneck[np.argmin(radius)] = True
    capacity = np.where(bottleneck, rng.uniform(0.65, 0.78, n), rng.uniform(0.95, 1.1, n))

    # spill-back weights: a queue at j reaches its neighbour i in proportion to exp(-length / 4 km)
    spill = np.zeros((n, n))
    a, b = net.edges[:, 0], net.edges[:, 1]
    w = np.exp(-net.lengths / 4.0)
    spill[a, b] = w
    spill[b, a] = w

    congestion = np.zeros((total, n))
    speeds = np.zeros((total, n))
    c = np.zeros(n)
    drift = np.zeros(n)
    incidents: list[dict] = []
    blocked = np.ones(n)  # capacity factor from current incidents
    blocked_until = np.zeros(n, dtype=np.int64)
    weekday0 = timestamps[0].weekday()
    for day in range(cfg.days):
        weekend = (weekday0 + day) % 7 >= 5
        level = math.exp(rng.normal(0, 0.12))  # how busy this day is
        am_shift, pm_shift = rng.normal(0, 0.3, 2)  # hours the rush hours come early or late
        rain = rng.random() < 0.12  # a wet day: everything ~10% slower and a little busier
        weather = 0.9 if rain else 1.0
        level *= 1.1 if rain else 1.0
        day_capacity = capacity * np.exp(rng.normal(0, 0.15, n))  # roadworks, signal timing: some days worse
        for k in range(steps_per_day):
            t = day * steps_per_day + k
            hour = k * cfg.step_minutes / 60
            base = 0.15 + 0.35 * _gauss(hour, 13, 4.5)
            if weekend:
                demand = 0.8 * base + level * 0.3 * _gauss(hour, 13.5, 2.0) * busy
            else:
                demand = base + level * (0.5 * morning * _gauss(hour, 8 + am_shift, 0.8)
                                         + 0.55 * evening * _gauss(hour, 17.5 + pm_shift, 1.0))
            # incidents: more likely where and when traffic is heavy
            rate = cfg.incidents_per_day * (0.5 if weekend else 1.0) / (steps_per_day * n)
            hit = rng.random(n) < rate * demand / 0.45
            for i in np.flatnonzero(hit & (blocked_until <= t)):
                minutes = int(rng.uniform(20, 90))
                factor = float(rng.uniform(0.3, 0.6))
                blocked[i], blocked_until[i] = factor, t + max(1, minutes // cfg.step_minutes)
                incidents.append({"node": net.node_ids[i], "start": str(timestamps[t]), "minutes": minutes,
                                  "capacity_factor": round(factor, 3)})
            blocked[blocked_until <= t] = 1.0
            load = demand / (day_capacity * blocked)
            own = 1 / (1 + np.exp(-(load - 0.9) / 0.07))  # congestion the node's own load causes
            spilled = cfg.coupling * (spill * c[None, :]).max(1)  # the worst queue among neighbours, spilling back
            target = np.maximum(own, spilled)
            c = c + np.where(target > c, 0.35, 0.2) * (target - c)  # queues build faster than they clear
            drift = 0.95 * drift + rng.normal(0, 0.6, n)
            v = free_speed * weather * (1 - 0.8 * c ** 1.3) + drift + rng.normal(0, cfg.noise_kmh, n)
            congestion[t], speeds[t] = c, np.clip(v, 3.0, None)
    data = TrafficData(network=net, timestamps=timestamps, values=np.round(speeds, 1).astype(np.float32),
                       source=f"simulated network ({n} nodes, {cfg.days} days, seed {cfg.seed})", unit="km/h")
    return Simulation(data=data, congestion=congestion, incidents=incidents)
