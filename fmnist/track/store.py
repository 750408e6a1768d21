"""The tracking store: resolving its URI, reaching it quickly or failing fast, and experiments."""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

from mlflow.tracking import MlflowClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


@event.listens_for(Engine, "connect")
def _sqlite_write_ahead_log(dbapi_connection, _record) -> None:
    """Put SQLite stores in WAL mode with synchronous=NORMAL.

    Rollback-journal mode syncs the disk on every commit and blocks readers during writes;
    WAL commits several times faster (one run's writes: about 4x here) and lets readers and
    one writer work at once. A committed run survives a crash of the process; only an OS
    crash or power loss can drop the last commits. WAL needs a local disk (not NFS).
    """
    if type(dbapi_connection).__module__.startswith(("sqlite3", "pysqlite2")):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

EMBEDDED_URI = "sqlite:///mlruns/mlflow.db"


class TrackingUnavailableError(RuntimeError):
    """The tracking server or store cannot be reached."""


def resolve_uri(uri: str | None) -> str:
    """Return ``uri`` with a relative SQLite path made absolute (against the current folder)."""
    uri = uri or EMBEDDED_URI
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(Path(uri[len(prefix):]).resolve())
    return uri


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def configure_client(timeout_s: float, max_retries: int) -> None:
    """Bound the MLflow client's wait on a dead server (its defaults wait ~4 minutes)."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(max(1, timeout_s))))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(max_retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")


def check_reachable(uri: str, timeout_s: float) -> None:
    """Fail in about ``timeout_s`` seconds when a tracking server does not respond to its health check."""
    if not is_server(uri):
        return
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            if response.status == 200:
                return
            problem = f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        problem = f"HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        problem = str(getattr(error, "reason", error))
    raise TrackingUnavailableError(
        f"tracking server {uri} is not reachable ({problem}). Start it, for example with "
        "`mlflow server --host 127.0.0.1 --port 5000 --backend-store-uri "
        "sqlite:///mlruns/mlflow.db`, or set tracking.uri to another server, or unset "
        "tracking.uri and MLFLOW_TRACKING_URI to use the embedded store."
    )


@functools.lru_cache(maxsize=8)
def client_for(uri: str) -> MlflowClient:
    """Return a client for ``uri``, creating an embedded SQLite store safely on first use.

    Two processes that create a fresh SQLite store at once race on its schema and can lose
    runs, so creation happens under an exclusive file lock next to the database.
    """
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):])
        db.parent.mkdir(parents=True, exist_ok=True)
        with open(db.with_suffix(db.suffix + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            client = MlflowClient(tracking_uri=uri)
            client.search_experiments(max_results=1)  # creates or migrates the schema
            return client
    return MlflowClient(tracking_uri=uri)


def artifact_root(uri: str) -> str | None:
    """Return where an embedded store keeps artifacts: ``artifacts/`` beside the database."""
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///"):]).parent / "artifacts").resolve().as_uri()
    return None  # a server decides


@functools.lru_cache(maxsize=64)
def ensure_experiment(client: MlflowClient, uri: str, name: str) -> str:
    """Return the id of experiment ``name``, creating it once even with parallel writers."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    root = artifact_root(uri)
    location = f"{root}/{name}" if root else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # another writer created it first: MLflow raises RESOURCE_ALREADY_EXISTS
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id
