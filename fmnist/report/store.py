"""Reading one sweep from the tracking store: its parent run and its child runs as a table."""

from __future__ import annotations

import logging

import pandas as pd
from mlflow.entities import Run, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

TAG_PARENT = "mlflow.parentRunId"
TAG_IS_SWEEP = "fmnist.sweep"
TAG_PIPELINE = "fmnist.pipeline"
TAG_HASH = "fmnist.config_hash"
TAG_DATA = "fmnist.data_digest"

# Runs per search request (MLflow accepts up to 50,000), so a 625-point grid takes one request.
PAGE_SIZE = 5000


class SweepNotFoundError(LookupError):
    """The requested sweep (parent run) is not in the tracking store."""


def experiment_ids(client: MlflowClient, name: str | None = None) -> list[str]:
    """Return the ids of every active experiment, or of experiment ``name`` alone."""
    if name is not None:
        found = client.get_experiment_by_name(name)
        if found is None:
            raise SweepNotFoundError(f"experiment {name!r} not found in the tracking store. "
                                     "Check experiment= and tracking.uri")
        return [found.experiment_id]
    ids, token = [], None
    while True:
        page = client.search_experiments(max_results=1000, page_token=token)
        ids += [experiment.experiment_id for experiment in page]
        token = page.token
        if not token:
            return ids


def find_sweep(client: MlflowClient, sweep: str, experiment: str | None = None) -> Run:
    """Return the parent run of a sweep: ``sweep`` is its run id or ``latest``.

    Raises
    ------
    SweepNotFoundError
        When no run has that id, the run is not a sweep's parent, or the store contains no sweep.
    """
    if sweep == "latest":
        runs = client.search_runs(
            experiment_ids(client, experiment), filter_string=f"tags.`{TAG_IS_SWEEP}` = 'true'",
            run_view_type=ViewType.ACTIVE_ONLY, max_results=1, order_by=["attributes.start_time DESC"],
        )
        if not runs:
            raise SweepNotFoundError("no sweep found in the tracking store (no run is tagged "
                                     f"{TAG_IS_SWEEP}=true); run a sweep first with `python -m fmnist.train -m ...`")
        return runs[0]
    try:
        run = client.get_run(sweep)
    except MlflowException as error:
        raise SweepNotFoundError(
            f"sweep={sweep!r} not found: no run with this id in the tracking store. Pass the parent "
            "run id shown by `python -m fmnist.train -m ...`, or sweep=latest") from error
    if run.data.tags.get(TAG_IS_SWEEP) != "true":
        raise SweepNotFoundError(
            f"sweep={sweep!r} is a run but not a sweep's parent run (it lacks the tag {TAG_IS_SWEEP}=true); "
            f"its parent is {run.data.tags.get(TAG_PARENT) or 'none'}")
    return run


def child_runs(client: MlflowClient, parent: Run) -> list[Run]:
    """Return every run whose ``mlflow.parentRunId`` tag is ``parent``, reading page by page."""
    runs, token = [], None
    while True:
        page = client.search_runs(
            [parent.info.experiment_id], filter_string=f"tags.`{TAG_PARENT}` = '{parent.info.run_id}'",
            run_view_type=ViewType.ACTIVE_ONLY, max_results=PAGE_SIZE, page_token=token,
        )
        runs += list(page)
        token = page.token
        if not token:
            return runs


def as_number(text: str | None) -> int | float | str | None:
    """Return ``text`` as an int or float when it is a number, else unchanged."""
    if text is None:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def runs_table(runs: list[Run]) -> pd.DataFrame:
    """Return one row per run: ``run_id``, ``run_name``, ``status``, ``start_time``, the
    pipeline, then every param under ``params.<key>`` and every metric's last value under its
    own key.

    Numeric params are stored as numbers. A config run more than once under the same parent
    (a failed job rerun) keeps one row: the FINISHED run if there is one, else the latest.
    """
    rows = []
    for run in runs:
        tags = run.data.tags
        row = {
            "run_id": run.info.run_id,
            "run_name": run.info.run_name,
            "status": run.info.status,
            "start_time": run.info.start_time,
            "pipeline": tags.get(TAG_PIPELINE, "unknown"),
            "config_hash": tags.get(TAG_HASH, run.info.run_id),
            "data_digest": tags.get(TAG_DATA),
        }
        row.update({f"params.{key}": as_number(value) for key, value in run.data.params.items()})
        row.update(run.data.metrics)
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["finished"] = table["status"] == "FINISHED"
    table = table.sort_values(["finished", "start_time"], ascending=[False, False])
    table = table.drop_duplicates("config_hash").drop(columns="finished")
    return table.sort_values("start_time").reset_index(drop=True)


def read_sweep(client: MlflowClient, sweep: str, experiment: str | None = None) -> tuple[Run, pd.DataFrame]:
    """Return a sweep's parent run and the table of its child runs (see :func:`runs_table`)."""
    parent = find_sweep(client, sweep, experiment)
    runs = child_runs(client, parent)
    log.info("Sweep %s: %d child runs", parent.info.run_id, len(runs))
    return parent, runs_table(runs)
