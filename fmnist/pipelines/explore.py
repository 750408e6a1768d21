"""Pipeline ``explore``: a description of the official Fashion-MNIST files, logged as one run.

It reads the official training file (60,000 images) and test file (10,000 images) as they are
stored, whatever ``data.protocol`` and ``data.subset`` are set to, because the label order
test is only meaningful on the files' own order. Logged: class counts per file, two tests of whether the
labels are in random order, the mean image and sample images per class, and pixel intensity
statistics.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from scipy import stats

from fmnist.data import CLASS_NAMES
from fmnist.data.dataset import load_raw
from fmnist.pipelines.common import load_data, log_data
from fmnist.track.run import JobRun

log = logging.getLogger(__name__)

# Random label orders drawn for the permutation runs test. Its smallest possible p-value is
# 1 / (PERMUTATIONS + 1).
PERMUTATIONS = 2000
SAMPLES_PER_CLASS = 10


def runs_test(labels: np.ndarray, rng: np.random.Generator, permutations: int = PERMUTATIONS) -> dict[str, float]:
    """Wald-Wolfowitz runs test for k categories, with a permutation p-value.

    A run is a maximal block of equal consecutive labels. Labels sorted by class give too few
    runs, alternating labels too many, so the two-sided p-value counts random orders of the
    same labels whose number of runs is at least as far from the mean as the observed one.
    """
    def count(sequence: np.ndarray) -> int:
        return 1 + int(np.count_nonzero(sequence[1:] != sequence[:-1]))

    observed = count(labels)
    shuffled = np.array([count(rng.permutation(labels)) for _ in range(permutations)])
    n = len(labels)
    class_counts = np.bincount(labels)
    # Expected runs of a random order: 1 + (n - 1) * P(two neighbours differ).
    expected = 1 + (n - 1) * (1 - float(np.sum(class_counts * (class_counts - 1))) / (n * (n - 1)))
    extreme = np.count_nonzero(np.abs(shuffled - expected) >= abs(observed - expected))
    return {
        "runs": float(observed),
        "runs_expected": expected,
        "runs_z": (observed - expected) / float(shuffled.std()),
        "runs_p_value": (extreme + 1) / (permutations + 1),
    }


def transition_test(labels: np.ndarray) -> dict[str, float]:
    """Chi-square test of independence between each label and the next one (10 x 10 table)."""
    table = np.zeros((len(CLASS_NAMES), len(CLASS_NAMES)), dtype=np.int64)
    np.add.at(table, (labels[:-1], labels[1:]), 1)
    chi2, p_value, dof, _ = stats.chi2_contingency(table)
    return {"transition_chi2": float(chi2), "transition_dof": float(dof), "transition_p_value": float(p_value)}


def class_counts(train: np.ndarray, test: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "class": CLASS_NAMES,
        "train": np.bincount(train, minlength=len(CLASS_NAMES)),
        "test": np.bincount(test, minlength=len(CLASS_NAMES)),
    })


def pixel_statistics(images: dict[str, np.ndarray], labels: dict[str, np.ndarray]) -> pd.DataFrame:
    """Return intensity statistics (grey levels 0-255) per file, overall and per class."""
    rows = []
    for part, x in images.items():
        groups = [("all", x)] + [(name, x[labels[part] == index]) for index, name in enumerate(CLASS_NAMES)]
        for name, values in groups:
            rows.append({
                "file": part, "class": name, "images": len(values),
                "mean": float(values.mean()), "std": float(values.std()),
                "median": float(np.median(values)), "min": int(values.min()), "max": int(values.max()),
                "zero_fraction": float(np.mean(values == 0)),
                "mean_ink_per_image": float(values.sum(axis=1).mean() / 255.0),
            })
    return pd.DataFrame(rows)


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def counts_figure(counts: pd.DataFrame):
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(10, 4.5), layout="constrained")
    positions = np.arange(len(counts))
    axes.bar(positions - 0.2, counts["train"], width=0.4, label=f"train file ({counts['train'].sum():,} images)")
    axes.bar(positions + 0.2, counts["test"], width=0.4, label=f"test file ({counts['test'].sum():,} images)")
    axes.set_xticks(positions, counts["class"], rotation=30, ha="right")
    axes.set_ylabel("images per class")
    axes.set_ylim(0, 1.25 * max(counts["train"].max(), counts["test"].max()))  # room for the legend
    axes.set_title("Class counts in the official files")
    axes.legend()
    return figure


def mean_images_figure(x: np.ndarray, y: np.ndarray):
    plt = pyplot()
    figure, axes_grid = plt.subplots(2, 5, figsize=(11, 5), layout="constrained")
    for index, axes in enumerate(axes_grid.flat):
        image = axes.imshow(x[y == index].mean(axis=0).reshape(28, 28), cmap="gray_r", vmin=0, vmax=255)
        axes.set_title(CLASS_NAMES[index], fontsize=10)
        axes.axis("off")
    figure.colorbar(image, ax=axes_grid, label="mean grey level (0-255)", shrink=0.8)
    figure.suptitle("Mean image per class (official training file)")
    return figure


def samples_figure(x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    plt = pyplot()
    figure, axes_grid = plt.subplots(len(CLASS_NAMES), SAMPLES_PER_CLASS, figsize=(9, 10), layout="constrained")
    for index, row in enumerate(axes_grid):
        chosen = rng.choice(np.flatnonzero(y == index), SAMPLES_PER_CLASS, replace=False)
        for axes, image_index in zip(row, chosen):
            axes.imshow(x[image_index].reshape(28, 28), cmap="gray_r", vmin=0, vmax=255)
            axes.set_xticks([])
            axes.set_yticks([])
        row[0].set_ylabel(CLASS_NAMES[index], rotation=0, ha="right", va="center", fontsize=9)
    figure.suptitle(f"{SAMPLES_PER_CLASS} random training images per class (one row per class)")
    return figure


def intensity_figure(x: np.ndarray):
    plt = pyplot()
    figure, (histogram, mean_map, std_map) = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained")
    histogram.hist(x.ravel(), bins=64, range=(0, 256), color="tab:blue", log=True)
    histogram.set_xlabel("grey level (0 = background, 255 = full ink)")
    histogram.set_ylabel("pixels (log scale)")
    histogram.set_title("Pixel intensity histogram")
    for axes, values, label in ((mean_map, x.mean(axis=0), "mean"), (std_map, x.std(axis=0), "standard deviation")):
        image = axes.imshow(values.reshape(28, 28), cmap="magma")
        axes.set_title(f"Per-pixel {label} over all images")
        axes.set_xlabel("pixel column")
        axes.set_ylabel("pixel row")
        figure.colorbar(image, ax=axes, label=f"{label} (grey levels)")
    figure.suptitle("Pixel intensity statistics (official training file)")
    return figure


def run(cfg: DictConfig, run: JobRun) -> dict[str, float]:
    """Describe the official training and test files and log the tables and figures."""
    split = load_data(cfg)
    log_data(run, split)
    raw = load_raw(split.root, cfg.data.verify)
    images = {"train": raw["train_images"].reshape(-1, 784), "test": raw["test_images"].reshape(-1, 784)}
    labels = {"train": raw["train_labels"].astype(np.int64), "test": raw["test_labels"].astype(np.int64)}
    rng = np.random.default_rng(cfg.seed)

    counts = class_counts(labels["train"], labels["test"])
    run.log_text(counts.to_csv(index=False), "class_counts.csv")

    metrics: dict[str, float] = {"n_train": float(len(labels["train"])), "n_test": float(len(labels["test"]))}
    order_rows = []
    for part in ("train", "test"):
        result = {**runs_test(labels[part], rng), **transition_test(labels[part])}
        metrics.update({f"order/{part}/{key}": value for key, value in result.items()})
        order_rows.append({"file": part, **result})
        log.info("Label order of the %s file: runs test p=%.4f (z=%.2f), transition chi-square p=%.4f",
                 part, result["runs_p_value"], result["runs_z"], result["transition_p_value"])
    run.log_text(pd.DataFrame(order_rows).to_csv(index=False), "label_order_tests.csv")

    pixels = pixel_statistics(images, labels)
    run.log_text(pixels.to_csv(index=False), "pixel_statistics.csv")
    for part in ("train", "test"):
        overall = pixels[(pixels["file"] == part) & (pixels["class"] == "all")].iloc[0]
        metrics.update({f"pixel/{part}/{key}": float(overall[key]) for key in ("mean", "std", "zero_fraction")})

    run.log_figure(counts_figure(counts), "class_counts.png")
    run.log_figure(mean_images_figure(images["train"], labels["train"]), "mean_images.png")
    run.log_figure(samples_figure(images["train"], labels["train"], rng), "samples.png")
    run.log_figure(intensity_figure(images["train"]), "pixel_intensity.png")
    run.log_metrics(metrics)
    return metrics
