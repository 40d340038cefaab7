"""The classical baseline beside the GCN: a random forest (Breiman 2001, scikit-learn) on Morgan fingerprints
(Rogers & Hahn 2010, radius 2, 2,048 bits), fit on the same molecules and scored on the same test set; saved as
JSON of each tree's arrays (never a pickle) and predicted from those arrays exactly as scikit-learn does."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shinsou.errors import DataError

N_TREES = 500
FOREST_FILE = "forest.json"
FORMAT = "shinsou random forest 1"  # {"trees": [{children_left, children_right, feature, threshold, leaf_value}]}
DESCRIPTION = "random forest, Morgan r=2 2048 bits"


def fit_forest(fps: np.ndarray, targets: np.ndarray, task: str, seed: int, trees: int = N_TREES, n_jobs: int = 1):
    """fps (M, 2048) bits, targets (M,) -> a fitted scikit-learn forest of `trees` trees."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
    forest = cls(n_estimators=trees, n_jobs=n_jobs, random_state=seed)
    return forest.fit(fps, targets)


@dataclass
class TreeArrays:
    """One fitted decision tree as scikit-learn's `tree_` holds it: per node the children (-1 at a leaf), the feature
    and threshold tested (go left when x[feature] <= threshold) and the value (class weights, or the mean target)."""

    children_left: np.ndarray  # (nodes,) int64
    children_right: np.ndarray  # (nodes,) int64
    feature: np.ndarray  # (nodes,) int64
    threshold: np.ndarray  # (nodes,) float64
    value: np.ndarray  # (nodes, K) float64: K class weights, or 1 value for regression (saved for leaves only)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """(M, F) float64 inputs -> (M,) the leaf each one reaches, all rows walking down one level per step."""
        node = np.zeros(len(x), dtype=np.int64)
        active = np.flatnonzero(self.children_left[node] != -1)
        while len(active):
            at = node[active]
            left = x[active, self.feature[at]] <= self.threshold[at]
            node[active] = np.where(left, self.children_left[at], self.children_right[at])
            active = active[self.children_left[node[active]] != -1]
        return node

    def to_json(self) -> dict:
        """The arrays as lists; values only at the leaves (the only ones a prediction reads), in node order."""
        leaves = self.children_left == -1
        return {"children_left": self.children_left.tolist(), "children_right": self.children_right.tolist(),
                "feature": self.feature.tolist(), "threshold": self.threshold.tolist(),
                "leaf_value": self.value[leaves].tolist()}

    @classmethod
    def from_json(cls, data: dict) -> TreeArrays:
        left = np.asarray(data["children_left"], dtype=np.int64)
        leaf_value = np.asarray(data["leaf_value"], dtype=np.float64).reshape(int((left == -1).sum()), -1)
        value = np.zeros((len(left), leaf_value.shape[1]))
        value[left == -1] = leaf_value
        return cls(left, np.asarray(data["children_right"], dtype=np.int64), np.asarray(data["feature"], dtype=np.int64),
                   np.asarray(data["threshold"], dtype=np.float64), value)


@dataclass
class Forest:
    """A fitted random forest as arrays: `outputs(fps)` gives what scikit-learn's predict_proba / predict give."""

    task: str  # "classification" or "regression"
    trees: list[TreeArrays]
    n_features: int
    classes: list[int]  # classification: the class indices the forest saw in training (its columns)
    fit_seconds: float | None = None

    @property
    def n_estimators(self) -> int:
        return len(self.trees)

    @classmethod
    def from_sklearn(cls, forest, task: str, fit_seconds: float | None = None) -> Forest:
        trees = []
        for estimator in forest.estimators_:
            t = estimator.tree_
            value = t.value[:, 0, :]  # (nodes, max classes) for one output
            if task == "classification":
                value = value[:, :len(forest.classes_)]
            trees.append(TreeArrays(t.children_left.astype(np.int64), t.children_right.astype(np.int64),
                                    t.feature.astype(np.int64), t.threshold.astype(np.float64), value.astype(np.float64)))
        classes = [int(c) for c in forest.classes_] if task == "classification" else []
        return cls(task, trees, int(forest.n_features_in_), classes, fit_seconds)

    def outputs(self, fps: np.ndarray, num_classes: int = 2) -> np.ndarray:
        """Classification: (M, num_classes) probabilities (each tree's leaf weights normalised, averaged over the trees
        in order, as scikit-learn does); regression: (M,) the trees' mean value."""
        fps = np.asarray(fps)
        if fps.ndim != 2 or fps.shape[1] != self.n_features:
            raise DataError(f"the forest takes {self.n_features} fingerprint bits per molecule, got shape {fps.shape}")
        x = fps.astype(np.float32).astype(np.float64)  # scikit-learn's trees compare float32 inputs to float64 thresholds
        if self.task == "regression":
            total = np.zeros(len(x))
            for tree in self.trees:
                total += tree.value[tree.apply(x), 0]
            return total / len(self.trees)
        total = np.zeros((len(x), len(self.classes)))
        for tree in self.trees:
            proba = tree.value[tree.apply(x)]  # (M, K) class weights of each row's leaf
            normaliser = proba.sum(axis=1)[:, np.newaxis]
            normaliser[normaliser == 0.0] = 1.0
            total += proba / normaliser
        total /= len(self.trees)
        out = np.zeros((len(x), num_classes))
        out[:, self.classes] = total
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """JSON of every tree's arrays, written to a temporary name and renamed."""
        path = Path(path)
        data = {"format": FORMAT, "model": DESCRIPTION, "task": self.task, "n_features": self.n_features,
                "classes": self.classes, "fit_seconds": self.fit_seconds,
                "trees": [tree.to_json() for tree in self.trees]}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, separators=(",", ":")))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Forest:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise DataError(f"{path}: no such file (the run was trained with --no-baseline?)") from None
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: not a readable forest ({e.__class__.__name__})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DataError(f"{path}: not a shinsou forest (format {FORMAT!r} expected)")
        try:
            return cls(data["task"], [TreeArrays.from_json(t) for t in data["trees"]], data["n_features"],
                       data["classes"], data.get("fit_seconds"))
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"{path}: a damaged forest ({e.__class__.__name__}: {e})") from None
