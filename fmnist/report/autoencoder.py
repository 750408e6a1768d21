"""Report part for autoencoder sweeps: the table of depth, latent dimension, times and accuracy."""

from __future__ import annotations

import pandas as pd

from fmnist.report.section import Section, Writer, column, finished, not_finished_note, pyplot

DEPTH, LATENT = "params.autoencoder.depth", "params.autoencoder.latent_dim"
COLUMNS = {
    DEPTH: "depth",
    LATENT: "latent dimension",
    "time/reduce_s": "training time (s)",
    "time/knn_s": "kNN time (s)",
    "accuracy": "accuracy",
}


def summary_table(done: pd.DataFrame) -> pd.DataFrame:
    """Return one row per finished run with the columns of :data:`COLUMNS`, sorted by depth and dimension."""
    table = pd.DataFrame({label: column(done, key) for key, label in COLUMNS.items()})
    # Prefer time/train_s (training alone) because time/reduce_s also counts encoding.
    trained = column(done, "time/train_s")
    table["training time (s)"] = trained.where(trained.notna(), table["training time (s)"])
    table.insert(0, "run", done["run_name"].to_numpy())
    return table.sort_values(["depth", "latent dimension"]).reset_index(drop=True)


def sections(writer: Writer, table: pd.DataFrame) -> list[Section]:
    section = Section("Autoencoder + kNN")
    section.notes += not_finished_note(table)
    done = finished(table)
    if done.empty:
        section.notes.append("No autoencoder run finished, so there is nothing to draw.")
        return [section]

    summary = summary_table(done)
    section.tables.append(writer.table(
        summary, "autoencoder_table", "Depth, latent dimension, training time, kNN time and accuracy"))

    plt = pyplot()
    figure, axes = plt.subplots(figsize=(9, 5.5), layout="constrained")
    for depth, part in summary.groupby("depth", dropna=False):
        part = part.sort_values("latent dimension")
        axes.plot(part["latent dimension"], part["accuracy"], "o-", label=f"depth {depth:g}")
    axes.set_xlabel("latent dimension (units in the bottleneck layer)")
    axes.set_ylabel("accuracy (kNN on the latent codes)")
    title = "Autoencoder + kNN: accuracy against latent dimension per depth"
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(title="encoder depth")
    section.figures.append(writer.figure(figure, "autoencoder_accuracy", title))
    return [section]
