"""digits8: the smallest complete shinsou pipeline, for the contract's test and docs/adding-a-pipeline.md.
scikit-learn's 1,797 real 8x8 digits (load_digits) classified by a two-layer MLP."""
