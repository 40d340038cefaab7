"""Graph neural networks: GCN (Kipf & Welling 2017) on communities (node classification), molecules
(graph classification/regression) and traffic; the shared GCN models live in gcn.py."""
