"""The traffic simulator: the same seed gives the same network and readings, weekday rush hours slow traffic down,
and congestion spreads along road segments to neighbouring sensors."""

from __future__ import annotations

import numpy as np

from shinsou.traffic.simulator import SimulatorConfig, simulate


def small(**options):
    return simulate(SimulatorConfig(nodes=9, days=7, **options))


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = small(seed=3), small(seed=3), small(seed=4)
    assert np.array_equal(a.data.values, b.data.values)
    assert np.array_equal(a.data.network.edges, b.data.network.edges)
    assert a.incidents == b.incidents
    assert not np.array_equal(a.data.values, c.data.values)


def test_network_and_series_are_well_formed():
    sim = small(seed=1)
    data, net = sim.data, sim.data.network
    assert data.values.shape == (7 * 288, 9) and data.values.dtype == np.float32
    assert np.isfinite(data.values).all() and data.values.min() >= 3.0
    assert len(set(net.node_ids)) == 9 and net.positions.shape == (9, 2)
    assert (net.lengths > 0).all() and (net.edges[:, 0] != net.edges[:, 1]).all()
    assert (data.timestamps[1:] - data.timestamps[:-1] == np.timedelta64(5, "m")).all()
    # every intersection is reachable from every other
    reached, frontier = {0}, [0]
    while frontier:
        node = frontier.pop()
        for a, b in net.edges:
            for u, v in ((a, b), (b, a)):
                if u == node and v not in reached:
                    reached.add(v)
                    frontier.append(v)
    assert reached == set(range(9))


def test_weekday_rush_hours_slow_traffic_and_weekends_do_not():
    data = small(seed=0).data  # Monday 2024-01-01 .. Sunday
    slots, weekend = data.slots(), data.weekend()
    mean_at = lambda hour, days: data.values[(slots == hour * 12) & days].mean()  # noqa: E731
    night, morning, evening = mean_at(3, ~weekend), mean_at(8, ~weekend), mean_at(18, ~weekend)
    assert morning < 0.8 * night and evening < 0.8 * night
    assert mean_at(8, weekend) > 0.9 * mean_at(3, weekend)


def test_congestion_spills_back_to_neighbours():
    # the random draws do not depend on the coupling, so both runs have the same incidents and demand
    free = simulate(SimulatorConfig(nodes=16, days=3, seed=2, coupling=0.0))
    coupled = simulate(SimulatorConfig(nodes=16, days=3, seed=2, coupling=0.8))
    assert free.incidents == coupled.incidents
    rise = coupled.congestion - free.congestion  # (T, N)
    assert rise.min() >= -1e-12  # spill-back only ever adds congestion
    assert rise.max() > 0.2
    assert (coupled.data.values.mean() < free.data.values.mean())
