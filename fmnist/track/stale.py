"""Finding runs left RUNNING by a process that died (SIGKILL, a crash, a lost machine)."""

from __future__ import annotations

import logging
import os
import socket
import time

from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from fmnist.track.run import TAG_HEARTBEAT, TAG_HOST, TAG_PARENT, TAG_PID

log = logging.getLogger(__name__)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(run: Run, older_than_s: float) -> bool:
    """Tell whether a RUNNING run has no live process behind it.

    A run started on this host is stale when its process no longer exists. A run from
    another host is stale when its heartbeat tag (set at start and after every training
    epoch) is older than ``older_than_s`` seconds.
    """
    tags = run.data.tags
    if tags.get(TAG_HOST) == socket.gethostname() and tags.get(TAG_PID, "").isdigit():
        return not _pid_alive(int(tags[TAG_PID]))
    heartbeat = tags.get(TAG_HEARTBEAT)
    if heartbeat is None or not heartbeat.isdigit():
        heartbeat_s = run.info.start_time / 1000
    else:
        heartbeat_s = int(heartbeat)
    return time.time() - heartbeat_s > older_than_s


def find_stale(client: MlflowClient, experiment_ids: list[str], older_than_s: float,
               parent_run_id: str | None = None) -> list[Run]:
    """Return the stale RUNNING runs of the experiments (children of ``parent_run_id`` if given)."""
    query = "attributes.status = 'RUNNING'"
    if parent_run_id:
        query += f" and tags.`{TAG_PARENT}` = '{parent_run_id}'"
    stale, token = [], None
    while True:
        page = client.search_runs(experiment_ids, filter_string=query, max_results=1000, page_token=token)
        stale += [run for run in page if is_stale(run, older_than_s)]
        token = page.token
        if not token:
            return stale


def mark_killed(client: MlflowClient, runs: list[Run]) -> None:
    for run in runs:
        client.set_terminated(run.info.run_id, "KILLED")
        log.info("Marked run %s (%s) KILLED", run.info.run_id, run.info.run_name)
