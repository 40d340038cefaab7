"""The semantic-segmentation pipeline: SegNet (Badrinarayanan et al. 2017) labels every pixel of a road scene.
Palette in `palette.py`, data in `data.py`, generated scenes in `scenes.py`, the model in `segnet.py`, training in `train.py`."""
