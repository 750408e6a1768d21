"""Classification metrics and the confusion matrix, logged the same way by every pipeline."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from fmnist.data import CLASS_NAMES


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Return accuracy and the macro averages of F1, precision and recall."""
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, average="macro", zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
    }


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return confusion_matrix(y_true, y_pred, labels=range(len(CLASS_NAMES)))


def confusion_csv(matrix: np.ndarray) -> str:
    """Format a confusion matrix as CSV: rows are true classes, columns predicted classes."""
    lines = ["true\\predicted," + ",".join(CLASS_NAMES)]
    lines += [f"{name}," + ",".join(str(v) for v in row) for name, row in zip(CLASS_NAMES, matrix)]
    return "\n".join(lines) + "\n"


def confusion_figure(matrix: np.ndarray, title: str):
    """Draw a confusion matrix with class names and counts; returns the matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 6))
    image = axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES, rotation=45, ha="right")
    axes.set_yticks(range(len(CLASS_NAMES)), CLASS_NAMES)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title)
    threshold = matrix.max() / 2
    for (row, column), value in np.ndenumerate(matrix):
        axes.text(column, row, str(value), ha="center", va="center", fontsize=7,
                  color="white" if value > threshold else "black")
    figure.colorbar(image, ax=axes, label="images")
    return figure


def log_confusion(run, y_true: np.ndarray, y_pred: np.ndarray, title: str, png: bool) -> None:
    """Stage ``confusion_matrix.csv`` and, when ``png``, ``confusion_matrix.png`` on ``run``."""
    matrix = confusion(y_true, y_pred)
    run.log_text(confusion_csv(matrix), "confusion_matrix.csv")
    if png:
        run.log_figure(confusion_figure(matrix, title), "confusion_matrix.png")
