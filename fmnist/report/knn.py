"""Report part for PCA + kNN sweeps: heatmaps over k x alpha and the accuracy-time Pareto front."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd

from fmnist.report.section import Figure, Section, Writer, column, finished, not_finished_note, pyplot

K, ALPHA = "params.knn.k", "params.pca.alpha"

QUALITY = {
    "accuracy": "accuracy",
    "f1_macro": "macro F1",
    "precision_macro": "macro precision",
    "recall_macro": "macro recall",
}
TIMES = {
    "time/reduce_fit_s": "PCA fit",
    "time/reduce_transform_s": "PCA transform",
    "time/reduce_s": "PCA fit + transform",
    "time/search_s": "neighbour search",
    "time/vote_s": "majority vote",
    "time/knn_s": "kNN classification (search + vote)",
    "time/total_s": "PCA + kNN",
    "time/wall_s": "whole job (wall clock)",
}
# Classification time on the Pareto plot: neighbour search plus vote, in seconds.
PARETO_TIME = "time/knn_s"


def groups(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Split the runs by every param other than k and alpha that varies (knn.metric, ...)."""
    varying = [key for key in table.columns
               if key.startswith("params.") and key not in (K, ALPHA) and table[key].nunique(dropna=False) > 1]
    if not varying:
        return [("", table)]
    parts = []
    for values, part in table.groupby(varying, dropna=False, sort=True):
        values = values if isinstance(values, tuple) else (values,)
        label = ", ".join(f"{key.removeprefix('params.')}={value}" for key, value in zip(varying, values))
        parts.append((label, part))
    return parts


def grid(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """Return ``key`` of the finished runs as a k (rows) x alpha (columns) table, NaN where missing."""
    ks = sorted(table[K].dropna().unique())
    alphas = sorted(table[ALPHA].dropna().unique())
    done = finished(table)
    values = done.assign(value=column(done, key)).pivot_table(index=K, columns=ALPHA, values="value", aggfunc="first")
    return values.reindex(index=ks, columns=alphas)


def draw_heatmaps(writer: Writer, table: pd.DataFrame, keys: dict[str, str], higher_is_better: bool,
                  name: str, title: str, columns: int) -> Figure:
    plt = pyplot()
    rows = int(np.ceil(len(keys) / columns))
    figure, axes_grid = plt.subplots(rows, columns, figsize=(5.6 * columns, 5.0 * rows), squeeze=False,
                                     layout="constrained")
    for axes, (key, label) in zip(axes_grid.flat, keys.items()):
        values = grid(table, key)
        data = np.ma.masked_invalid(values.to_numpy(dtype=float))
        colormap = plt.get_cmap("viridis" if higher_is_better else "viridis_r").with_extremes(bad="lightgrey")
        # Quality scores: the lowest quarter of the grid (tiny alpha) would stretch the scale so
        # far that the best region looks uniform, so the scale starts at the 25th percentile.
        low = float(np.percentile(data.compressed(), 25)) if higher_is_better and data.count() else None
        image = axes.imshow(data, origin="lower", aspect="auto", cmap=colormap, interpolation="nearest", vmin=low)
        unit = "" if higher_is_better else " (s)"
        figure.colorbar(image, ax=axes, label=label + unit, extend="min" if low is not None else "neither")
        # Every n-th tick only: tick labels are most of matplotlib's drawing time on a 25 x 25 grid.
        x_step, y_step = max(1, len(values.columns) // 10), max(1, len(values.index) // 10)
        axes.set_xticks(range(0, len(values.columns), x_step), [f"{a:g}" for a in values.columns[::x_step]])
        axes.set_yticks(range(0, len(values.index), y_step), [f"{k:g}" for k in values.index[::y_step]])
        axes.set_xlabel("alpha (PCA components)")
        axes.set_ylabel("k (neighbours)")
        missing = np.argwhere(data.mask)
        if len(missing):
            axes.scatter(missing[:, 1], missing[:, 0], marker="x", color="red", s=20, label="missing or failed")
        if data.count():
            flat = np.ma.argmax(data) if higher_is_better else np.ma.argmin(data)
            row, col = np.unravel_index(flat, data.shape)
            best = data[row, col]
            axes.scatter([col], [row], marker="*", s=180, color="red", edgecolor="white", linewidth=1.0,
                         label=f"best: k={values.index[row]:g}, alpha={values.columns[col]:g}")
            shown = f"{best:.4f}" if higher_is_better else f"{best:.3g} s"
            axes.set_title(f"{label}: best {shown}", fontsize=10)
            axes.legend(loc="upper right", fontsize=7, framealpha=0.8)
        else:
            axes.set_title(f"{label}: not logged", fontsize=10)
    for axes in list(axes_grid.flat)[len(keys):]:
        axes.set_visible(False)
    figure.suptitle(title, fontsize=13)
    return writer.figure(figure, name, title)


def pareto_front(points: pd.DataFrame, time_key: str) -> pd.DataFrame:
    """Return the points that no other point beats on both accuracy (higher) and time (lower)."""
    ordered = points.dropna(subset=[time_key, "accuracy"]).sort_values([time_key, "accuracy"], ascending=[True, False])
    best, keep = -np.inf, []
    for index, accuracy in ordered["accuracy"].items():
        if accuracy > best:
            keep.append(index)
            best = accuracy
    return ordered.loc[keep]


def draw_pareto(writer: Writer, done: pd.DataFrame, front: pd.DataFrame, name: str, title: str):
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(10, 6), layout="constrained")
    axes.scatter(column(done, PARETO_TIME), done["accuracy"], s=12, color="tab:grey", alpha=0.5, label="grid points")
    axes.plot(front[PARETO_TIME], front["accuracy"], "o-", color="tab:red", drawstyle="steps-post", label="Pareto front")
    # Label only front points at least 0.01 more accurate than the last labelled one, and the
    # best, so that the labels do not overlap.
    labelled = -np.inf
    for position, (_, row) in enumerate(front.iterrows()):
        if row["accuracy"] < labelled + 0.01 and position != len(front) - 1:
            continue
        labelled = row["accuracy"]
        axes.annotate(f"k={row[K]:g}, a={row[ALPHA]:g}", (row[PARETO_TIME], row["accuracy"]),
                      textcoords="offset points", xytext=(4, -10), fontsize=7)
    axes.set_xscale("log")
    axes.set_xlabel("classification time: kNN search + vote (s, log scale)")
    axes.set_ylabel("accuracy")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="lower right")
    return writer.figure(figure, name, title)


def sections(writer: Writer, table: pd.DataFrame) -> list[Section]:
    """Build the PCA + kNN part of the report, one section per value of the other swept params."""
    result = []
    for label, part in groups(table):
        suffix = f" ({label})" if label else ""
        slug = "knn"
        if label:
            slug += "_" + re.sub(r"[^A-Za-z0-9]", "_", label)
            if len(slug) > 80:
                # File names have a length limit (255 bytes on Linux); keep a readable head.
                slug = slug[:60] + "_" + hashlib.sha256(label.encode()).hexdigest()[:12]
        section = Section(f"PCA + kNN over k x alpha{suffix}")
        section.notes += not_finished_note(part)
        done = finished(part)
        if done.empty:
            section.notes.append("No run of this grid finished, so there is nothing to draw.")
            result.append(section)
            continue

        n_k, n_alpha = part[K].nunique(), part[ALPHA].nunique()
        section.figures.append(draw_heatmaps(
            writer, part, QUALITY, True, f"{slug}_quality",
            f"PCA + kNN{suffix}: classification quality over {n_k} k x {n_alpha} alpha", columns=2))
        section.figures.append(draw_heatmaps(
            writer, part, TIMES, False, f"{slug}_times",
            f"PCA + kNN{suffix}: times per step over k x alpha (seconds)", columns=2))

        front = pareto_front(done, PARETO_TIME)
        section.figures.append(draw_pareto(
            writer, done, front, f"{slug}_pareto", f"PCA + kNN{suffix}: accuracy against classification time"))

        table_keys = [K, ALPHA, *QUALITY, *TIMES]
        ranked = done.sort_values("accuracy", ascending=False)
        section.tables.append(writer.table(
            pd.DataFrame({key.removeprefix("params."): column(ranked, key) for key in table_keys}).head(10),
            f"{slug}_top10", "Ten most accurate points"))
        section.tables.append(writer.table(
            pd.DataFrame({key.removeprefix("params."): column(front, key) for key in [K, ALPHA, "accuracy", PARETO_TIME]}),
            f"{slug}_pareto", "Pareto front of accuracy against classification time (time/knn_s, seconds)"))
        accuracy = grid(part, "accuracy")
        accuracy.index.name = "k \\ alpha"
        writer.table(accuracy.reset_index(), f"{slug}_accuracy_grid", "Accuracy over k (rows) x alpha (columns)")
        result.append(section)
    return result
