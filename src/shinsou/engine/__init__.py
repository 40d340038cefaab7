"""The engine every pipeline trains on: layered config, safetensors checkpoints, the training loop
(Lightning Fabric for device and DDP), confusion-matrix metrics and the HTML report."""
