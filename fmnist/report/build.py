"""Building a sweep's report: read its runs, draw each pipeline's part, write the page, log it."""

from __future__ import annotations

import logging
import time
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient

from fmnist.report import autoencoder, classifier, embedding, knn, summary
from fmnist.report.page import render
from fmnist.report.section import Section, Writer, finished, not_finished_note
from fmnist.report.store import TAG_PIPELINE, read_sweep

log = logging.getLogger(__name__)

ARTIFACT_PATH = "report"


def other_sections(writer: Writer, pipeline: str, table: pd.DataFrame) -> list[Section]:
    """Return a table of the runs of a pipeline that has no dedicated report part."""
    section = Section(f"Pipeline {pipeline}")
    section.notes += not_finished_note(table)
    done = finished(table)
    keys = [key for key in done.columns if key.startswith("params.") and done[key].nunique() > 1]
    keys += [key for key in ("accuracy", "f1_macro", "time/total_s", "time/wall_s") if key in done]
    if not done.empty:
        frame = done[["run_name", *keys]].rename(columns=lambda key: key.removeprefix("params."))
        section.tables.append(writer.table(frame, f"{pipeline}_runs", f"Runs of pipeline {pipeline}"))
    return [section]


def pipeline_sections(writer: Writer, table: pd.DataFrame, client: MlflowClient) -> list[Section]:
    sections = []
    for pipeline, part in table.groupby("pipeline", sort=True):
        part = part.dropna(axis="columns", how="all")
        if pipeline == "knn" and {knn.K, knn.ALPHA} <= set(part.columns):
            sections += knn.sections(writer, part)
        elif pipeline == "autoencoder":
            sections += autoencoder.sections(writer, part)
        elif pipeline == "classifier":
            sections += classifier.sections(writer, part, client)
        elif pipeline == "embedding":
            sections += embedding.sections(writer, part, client)
        else:
            sections += other_sections(writer, str(pipeline), part)
    return sections


def public_uri(uri: str) -> str:
    """Return ``uri`` without a user name or password, so the page can be shared."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password or parts.username:
        parts = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))
    return urllib.parse.urlunsplit(parts)


def build_report(client: MlflowClient, sweep: str, out: Path, experiment: str | None = None,
                 log_artifacts: bool = True) -> Path:
    """Write ``index.html``, its PNGs and CSVs for one sweep into ``out`` and return the page's path.

    Parameters
    ----------
    client : the tracking store's client.
    sweep : the parent run id of the sweep, or ``latest`` (the newest sweep in ``experiment``,
        or in the whole store when ``experiment`` is None).
    out : the folder to write into; created when missing.
    log_artifacts : also log the folder under ``report/`` in the parent run's artifacts.

    Raises
    ------
    fmnist.report.store.SweepNotFoundError
        When the sweep is not in the store.
    """
    start = time.perf_counter()
    parent, table = read_sweep(client, sweep, experiment)
    run_id = parent.info.run_id
    out = Path(out)
    writer = Writer(out)

    tags, metrics = parent.data.tags, parent.data.metrics
    experiment_name = client.get_experiment(parent.info.experiment_id).name
    facts = {
        "parent run": f"{run_id} ({parent.info.run_name})",
        "experiment": experiment_name,
        "pipeline": tags.get(TAG_PIPELINE, "unknown"),
        "status": parent.info.status,
        "started": datetime.fromtimestamp(parent.info.start_time / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "jobs in the sweep": tags.get("fmnist.n_jobs", "unknown"),
        "jobs finished / skipped / failed": " / ".join(
            f"{metrics[key]:g}" if key in metrics else "?" for key in ("jobs_finished", "jobs_skipped", "jobs_failed")),
        "child runs in the store": str(len(table)),
        "tracking store": public_uri(client.tracking_uri),
        "sweep folder": tags.get("fmnist.sweep_dir", "unknown"),
    }
    sections = []
    if table.empty:
        sections.append(Section("No runs", notes=["The sweep has no child runs in the store yet."]))
    else:
        table.to_csv(out / "runs.csv", index=False)
        sections.append(summary.section(writer, table, client))
        sections += pipeline_sections(writer, table, client)
        if str(tags.get("fmnist.n_jobs", len(table))) != str(len(table)):
            # NOTE: a job skipped because a FINISHED run of its config exists under another
            # sweep's parent run has no child run here, so its point shows as missing.
            sections[0].notes.append(
                f"The sweep lists {tags['fmnist.n_jobs']} jobs but the store holds {len(table)} child runs; "
                "jobs that never started or were skipped for a run under another sweep are missing.")

    page = out / "index.html"
    page.write_text(render(f"Sweep report: {parent.info.run_name}", facts, sections), encoding="utf-8")
    if log_artifacts:
        client.log_artifacts(run_id, str(out), artifact_path=ARTIFACT_PATH)
    log.info("Report of sweep %s (%d runs) written to %s in %.1f s", run_id, len(table), page, time.perf_counter() - start)
    return page


def report_after_sweep(client: MlflowClient, run_id: str, out: Path) -> Path | None:
    """Write a finished sweep's report and log it to the parent run, or log a warning when that fails.

    A report failure must not hide the sweep's own result, so every exception is caught here.
    """
    try:
        return build_report(client, run_id, out)
    except Exception as error:  # any failure, because the sweep's result matters more than its report
        log.warning("Sweep report for parent run %s failed (%s: %s); rerun it with "
                    "`python -m fmnist.report sweep=%s out=%s`", run_id, type(error).__name__, error, run_id, out,
                    exc_info=True)
        return None
