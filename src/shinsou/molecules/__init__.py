"""Molecules as graphs: SMILES -> RDKit atom/bond graphs -> GCN ensemble + pooling (graph classification/regression,
Kipf & Welling 2017), beside a random forest on Morgan fingerprints (Rogers & Hahn 2010), on B3DB by default."""
