"""Transfer learning: an ImageNet CNN with its early layers frozen, fine-tuned on a small labelled set (`config.py`).
Backbones in `backbones.py`, freezing in `freeze.py`, data in `data.py`, training in `train.py`, prediction in `predictor.py`."""
