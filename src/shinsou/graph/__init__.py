"""Communities: semi-supervised node classification with a GCN (Kipf & Welling 2017) on the karate club,
Planetoid (Yang et al. 2016 raw files) or nodes.csv + edges.csv graphs."""
