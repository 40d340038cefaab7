"""`shinsou explain`: the lecture's convolution, pooling and layer-shape arithmetic made visible and checkable,
and what a trained CNN sees (filters, feature maps, Grad-CAM, Selvaraju et al. 2017)."""
