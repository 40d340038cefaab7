"""Molecules as graphs: SMILES -> RDKit atom/bond graphs -> GCN + pooling (graph classification/regression),
with a random forest on Morgan fingerprints beside it; data, featurize, splits, train, report, pipeline, cli."""
