"""Graph neural networks: GCN (Kipf & Welling 2017) on communities (node classification), molecules
(graph classification/regression) and traffic; the shared GCN models live in gcn.py."""

import warnings

with warnings.catch_warnings():  # torch_geometric 2.8 still calls torch.jit.script at import, which torch 2.14 deprecates
    warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
    import torch_geometric  # noqa: F401  (imported once here, every graph module below finds it loaded)
