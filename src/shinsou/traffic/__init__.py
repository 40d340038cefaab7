"""Traffic forecasting on a road network: a T-GCN (Zhao et al. 2019, GCN per time step inside a GRU) that forecasts
sensor speeds. Simulator in `simulator.py`, data in `data.py`, model in `model.py`, training in `train.py`, prediction in `predictor.py`."""
