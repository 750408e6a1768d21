"""Report part for classifier sweeps: the learning curves of every model in one figure."""

from __future__ import annotations

import pandas as pd
from matplotlib.ticker import MaxNLocator
from mlflow.tracking import MlflowClient

from fmnist.report.section import Section, Writer, finished, not_finished_note, pyplot

CURVES = ("train_loss", "val_loss", "train_acc", "val_acc")
# The training time is the first of these metrics a run logged.
TRAIN_TIMES = ("time/train_s", "time/fit_s", "time/total_s", "time/wall_s")


def model_name(row: pd.Series) -> str:
    """Return the classifier's name: the ``classifier.name`` param, another ``classifier.*``
    param, or the run name."""
    for key in ("params.classifier.name", "params.classifier._target_", "params.classifier"):
        if isinstance(row.get(key), str):
            return row[key].rsplit(".", 1)[-1]
    others = [key for key in row.index if key.startswith("params.classifier.") and isinstance(row[key], str)]
    return row[others[0]] if others else str(row["run_name"])


def histories(client: MlflowClient, table: pd.DataFrame) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Return ``{run_id: {curve: [(epoch, value), ...]}}`` for the curves each run logged.

    This costs one request per run and curve, so it is read for classifier runs only.
    """
    curves = {}
    for _, row in table.iterrows():
        found = {}
        for key in CURVES:
            if key in table and pd.notna(row.get(key)):
                history = client.get_metric_history(row["run_id"], key)
                found[key] = sorted((point.step, point.value) for point in history)
        curves[row["run_id"]] = found
    return curves


def sections(writer: Writer, table: pd.DataFrame, client: MlflowClient) -> list[Section]:
    section = Section("Classifiers")
    section.notes += not_finished_note(table)
    done = finished(table)
    if done.empty:
        section.notes.append("No classifier run finished, so there is nothing to draw.")
        return [section]

    names = {row["run_id"]: model_name(row) for _, row in done.iterrows()}
    curves = histories(client, done)
    rows = []
    for _, row in done.iterrows():
        run_curves = curves[row["run_id"]]
        epochs = max((len(points) for points in run_curves.values()), default=0)
        rows.append({
            "model": names[row["run_id"]],
            "run": row["run_name"],
            "epochs": epochs,
            "final train_acc": run_curves["train_acc"][-1][1] if run_curves.get("train_acc") else float("nan"),
            "final val_acc": run_curves["val_acc"][-1][1] if run_curves.get("val_acc") else float("nan"),
            "accuracy": row.get("accuracy", float("nan")),
            "training time (s)": next((row[key] for key in TRAIN_TIMES if pd.notna(row.get(key))), float("nan")),
        })
    summary = pd.DataFrame(rows).sort_values("accuracy", ascending=False)
    section.tables.append(writer.table(summary, "classifier_table", "Models: epochs, final accuracies, evaluation accuracy"))

    plt = pyplot()
    figure, (loss_axes, acc_axes) = plt.subplots(1, 2, figsize=(14, 5.5), layout="constrained")
    colors = plt.get_cmap("tab10")
    for index, (run_id, run_curves) in enumerate(curves.items()):
        color = colors(index % 10)
        for key, axes in (("train_loss", loss_axes), ("val_loss", loss_axes), ("train_acc", acc_axes), ("val_acc", acc_axes)):
            points = run_curves.get(key)
            if points:
                epochs, values = zip(*points)
                style = "--" if key.startswith("train") else "-"
                axes.plot(epochs, values, style, color=color, label=f"{names[run_id]} {key.split('_')[0]}")
    loss_axes.set_ylabel("loss (as the model logs it)")
    acc_axes.set_ylabel("accuracy")
    for axes, quantity in ((loss_axes, "Loss"), (acc_axes, "Accuracy")):
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(f"{quantity} per epoch (dashed: training, solid: validation)")
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=7)
    title = "Classifiers: learning curves"
    figure.suptitle(title)
    section.figures.append(writer.figure(figure, "classifier_curves", title))
    return [section]
