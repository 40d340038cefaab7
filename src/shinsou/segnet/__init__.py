"""The semantic-segmentation pipeline: SegNet (Badrinarayanan et al. 2017) labels every pixel of a road scene.
Options in `config.py`, data in `data.py` (palette in `palette.py`, generated scenes in `scenes.py`), the model in
`segnet.py`, training in `train.py`, prediction in `predictor.py`."""
