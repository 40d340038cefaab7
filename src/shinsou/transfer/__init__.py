"""Transfer learning: an ImageNet CNN with its early layers frozen, fine-tuned on a small labelled set.
Backbones in `backbones.py` (+ `efficientnet_lite0.py`), freezing in `freeze.py`, data in `data.py`, training in `train.py`."""
