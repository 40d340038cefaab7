"""The classical baseline beside the GCN: a random forest (Breiman 2001, scikit-learn) on Morgan fingerprints
(Rogers & Hahn 2010, radius 2, 2,048 bits), trained on the same training molecules and scored on the same test set."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from shinsou.molecules.metrics import classification_scores, regression_scores

N_TREES = 500


def fit_forest(fps: np.ndarray, targets: np.ndarray, task: str, seed: int, trees: int = N_TREES, n_jobs: int = 1):
    """fps (M, 2048) bits, targets (M,) -> a fitted forest of `trees` trees."""
    cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
    forest = cls(n_estimators=trees, n_jobs=n_jobs, random_state=seed)
    return forest.fit(fps, targets)


def forest_outputs(forest, fps: np.ndarray, task: str, num_classes: int = 2) -> np.ndarray:
    """Classification: (M, num_classes) class probabilities; regression: (M,) values."""
    if task == "classification":
        proba = np.zeros((len(fps), num_classes))
        proba[:, forest.classes_] = forest.predict_proba(fps)
        return proba
    return forest.predict(fps)


def forest_scores(forest, fps: np.ndarray, targets: np.ndarray, task: str, num_classes: int = 2) -> dict:
    out = forest_outputs(forest, fps, task, num_classes)
    return classification_scores(out, targets) if task == "classification" else regression_scores(out, targets)
