"""The CNN image-classification pipeline: LeNet on MNIST-family digits (IDX or Kaggle CSV).
Data in `data.py`, models in `lenet.py`, training in `train.py`, prediction in `predict.py`."""
