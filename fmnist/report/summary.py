"""The report's summary: the best configuration per pipeline, and PCA + kNN at the same dimension."""

from __future__ import annotations

import logging

import pandas as pd
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from fmnist.report.section import Section, Writer, finished
from fmnist.report.store import TAG_DATA, TAG_PIPELINE, experiment_ids

log = logging.getLogger(__name__)

# The param that gives each pipeline's output dimension. An embedding without it has 2.
DIMENSION = {
    "knn": "params.pca.alpha",
    "autoencoder": "params.autoencoder.latent_dim",
    "embedding": "params.embedding.n_components",
}


def describe(row: pd.Series, keys: list[str]) -> str:
    """Return ``key=value`` pairs of ``keys`` in ``row``, or the run name when ``keys`` is empty."""
    pairs = []
    for key in keys:
        value = f"{row[key]:g}" if isinstance(row[key], float) else str(row[key])
        pairs.append(f"{key.removeprefix('params.')}={value}")
    return " ".join(pairs) or str(row["run_name"])


def swept_keys(table: pd.DataFrame) -> list[str]:
    """Return the params that differ between the runs of ``table``."""
    return [key for key in table.columns if key.startswith("params.") and table[key].nunique(dropna=True) > 1]


def best_pca(client: MlflowClient, table: pd.DataFrame, alpha: float, digest: str | None) -> pd.Series | None:
    """Return the most accurate finished PCA + kNN run with ``alpha`` components on the same data.

    The sweep's own runs are used when they contain that alpha, else the whole store is
    searched once (all experiments).
    """
    own = finished(table[table["pipeline"] == "knn"])
    if "params.pca.alpha" in own:
        own = own[own["params.pca.alpha"] == alpha]
        if digest is not None:
            own = own[own["data_digest"] == digest]
        if not own.empty:
            return own.sort_values("accuracy", ascending=False).iloc[0]
    query = (f"params.`pca.alpha` = '{alpha:g}' and attributes.status = 'FINISHED' "
             f"and tags.`{TAG_PIPELINE}` = 'knn'")
    if digest is not None:
        query += f" and tags.`{TAG_DATA}` = '{digest}'"
    runs = client.search_runs(experiment_ids(client), filter_string=query, run_view_type=ViewType.ACTIVE_ONLY,
                              max_results=1, order_by=["metrics.accuracy DESC"])
    if not runs:
        return None
    run = runs[0]
    return pd.Series({"run_name": run.info.run_name, "accuracy": run.data.metrics.get("accuracy"),
                      "params.knn.k": run.data.params.get("knn.k"), "time/total_s": run.data.metrics.get("time/total_s")})


def section(writer: Writer, table: pd.DataFrame, client: MlflowClient) -> Section:
    summary = Section("Summary")
    rows = []
    for pipeline, part in table.groupby("pipeline", sort=True):
        done = finished(part)
        if done.empty or "accuracy" not in done or done["accuracy"].isna().all():
            summary.notes.append(f"Pipeline {pipeline}: no finished run with an accuracy.")
            continue
        best = done.sort_values("accuracy", ascending=False).iloc[0]
        row = {"pipeline": pipeline, "best configuration": describe(best, swept_keys(part)),
               "accuracy": best["accuracy"], "run": best["run_name"],
               "finished runs": len(done), "runs": len(part)}
        key = DIMENSION.get(pipeline)
        dimension = best.get(key) if key else None
        if pipeline == "embedding" and dimension is None:
            dimension = 2.0
        if pd.api.types.is_number(dimension) and pd.notna(dimension) and pipeline != "knn":
            pca = best_pca(client, table, dimension, best.get("data_digest"))
            row["dimension"] = dimension
            if pca is None:
                summary.notes.append(
                    f"Pipeline {pipeline}: no finished PCA + kNN run with pca.alpha={dimension:g} on the same data "
                    f"in the store; run `python -m fmnist.train pca.alpha={dimension:g}` to compare.")
            else:
                row["PCA + kNN run at this dimension"] = pca["run_name"]
                row["PCA + kNN accuracy at this dimension"] = pca["accuracy"]
                row["difference to PCA"] = best["accuracy"] - pca["accuracy"]
        elif pipeline == "knn":
            row["dimension"] = dimension
        rows.append(row)
    if rows:
        summary.tables.append(writer.table(pd.DataFrame(rows), "summary", "Best configuration per pipeline"))
    return summary
