"""Report part for embedding sweeps: the runs' scatter plots side by side with times and accuracy."""

from __future__ import annotations

import logging
import shutil

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from fmnist.report.section import Figure, Section, Writer, finished, not_finished_note

log = logging.getLogger(__name__)

METHOD = "params.embedding.method"
# Artifact names of the scatter plot, in order of preference.
SCATTERS = ("embedding_scatter.png", "scatter.png")


def label(row: pd.Series) -> str:
    method = row.get(METHOD)
    return str(method) if isinstance(method, str) else str(row["run_name"])


def sections(writer: Writer, table: pd.DataFrame, client: MlflowClient) -> list[Section]:
    section = Section("Embeddings")
    section.notes += not_finished_note(table)
    done = finished(table)
    if done.empty:
        section.notes.append("No embedding run finished, so there is nothing to show.")
        return [section]

    times = sorted(key for key in done.columns if key.startswith("time/") and done[key].notna().any())
    summary = pd.DataFrame({"method": [label(row) for _, row in done.iterrows()], "run": done["run_name"].to_numpy()})
    for key in ["accuracy", *times]:
        summary[key.replace("time/", "time ").replace("_s", " (s)")] = done[key].to_numpy() if key in done else float("nan")
    section.tables.append(writer.table(summary, "embedding_table", "Embeddings: accuracy and times"))

    for _, row in done.iterrows():
        name = f"embedding_{row['run_id'][:8]}_scatter.png"
        logged = {item.path for item in client.list_artifacts(row["run_id"])}
        found = next((scatter for scatter in SCATTERS if scatter in logged), None)
        if found is None:
            section.notes.append(f"Run {row['run_name']} has no scatter plot artifact ({' or '.join(SCATTERS)}).")
            continue
        try:
            downloaded = client.download_artifacts(row["run_id"], found, str(writer.folder))
        except (MlflowException, OSError) as error:
            section.notes.append(f"Run {row['run_name']}: downloading {found} failed ({error}).")
            continue
        path = writer.folder / name
        shutil.move(downloaded, path)
        accuracy = row.get("accuracy")
        parts = [label(row)] + ([f"accuracy {accuracy:.4f}"] if pd.notna(accuracy) else [])
        parts += [f"{key.removeprefix('time/').removesuffix('_s')} {row[key]:.3g} s" for key in times if pd.notna(row.get(key))]
        section.gallery.append(Figure(path, ", ".join(parts)))
    return [section]
