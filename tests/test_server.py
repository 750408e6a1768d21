"""A sweep against a real ``mlflow server`` on 127.0.0.1, as the compose stack runs it.

The backend store is PostgreSQL when its server binaries are installed (a private cluster
in a temporary folder, owned by the ``postgres`` user when the tests run as root, because
PostgreSQL refuses to run as root), and SQLite otherwise. Artifacts are proxied by the
server (``--serve-artifacts``) into a local folder, as in docker-compose.yml.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import mlflow
import pytest

from tests.conftest import run_cli

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "fmnist"
PG_PASSWORD = "fmnist-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, service: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise TimeoutError(f"{service} did not start within {timeout_s} s")


def as_owner(command: list[str]) -> list[str]:
    """Return ``command`` run as the postgres user when this process is root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture
def postgres_uri():
    """Start a private PostgreSQL cluster on 127.0.0.1 and return its SQLAlchemy URI."""
    folder = Path(tempfile.mkdtemp(prefix="fmnist-pg-"))
    data = folder / "data"
    password_file = folder / "password"
    password_file.write_text(PG_PASSWORD + "\n")
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        os.chown(password_file, owner.pw_uid, owner.pw_gid)
    port = free_port()
    subprocess.run(
        as_owner([str(PG_BIN / "initdb"), "-D", str(data), "-U", PG_USER, f"--pwfile={password_file}",
                  "--auth=scram-sha-256", "--encoding=UTF8", "--no-instructions"]),
        check=True, capture_output=True, text=True,
    )
    server = subprocess.Popen(
        as_owner([str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
                  "-c", f"unix_socket_directories={folder}"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        ready = [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER]
        wait_for(lambda: subprocess.run(ready, capture_output=True).returncode == 0, "PostgreSQL")
        # The driver is named because MLflow 3.17 otherwise picks psycopg 3, which is not installed.
        yield f"postgresql+psycopg2://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        # The postmaster's PID is the first line of postmaster.pid, and SIGINT requests a fast shutdown.
        pid_file = data / "postmaster.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
        server.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def backend_uri(request, tmp_path) -> str:
    """PostgreSQL when its binaries are installed, SQLite otherwise."""
    if (PG_BIN / "initdb").exists() and shutil.which("runuser"):
        return request.getfixturevalue("postgres_uri")
    return f"sqlite:///{tmp_path}/server/mlflow.db"


@pytest.fixture
def server(backend_uri, tmp_path):
    """Start ``mlflow server`` on 127.0.0.1 and return (its URL, its artifact folder)."""
    port = free_port()
    artifacts = tmp_path / "mlartifacts"
    (tmp_path / "server").mkdir(exist_ok=True)
    log = open(tmp_path / "server.log", "w")
    command = [
        str(Path(sys.executable).parent / "mlflow"), "server",
        "--backend-store-uri", backend_uri,
        "--serve-artifacts", "--artifacts-destination", str(artifacts),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        # The same protection as in docker-compose.yml: the service name plus local names.
        "--allowed-hosts", f"mlflow,mlflow:5000,localhost:{port},127.0.0.1:{port}",
    ]
    # Its own process group, so that stopping it also stops the uvicorn worker it starts.
    process = subprocess.Popen(command, cwd=tmp_path / "server", stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_for(healthy, "mlflow server", timeout_s=120)
        yield url, artifacts
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
        log.close()


@pytest.mark.slow
def test_sweep_against_server(server, backend_uri, data_root, tmp_path):
    url, artifacts = server
    args = ["-m", "knn.k=1,3", "pca.alpha=5", "data.subset=1000", f"data.root={data_root}",
            f"cache.dir={tmp_path}/cache", "tracking.confusion_png=always"]
    result = run_cli(args, tmp_path, url, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    client = mlflow.MlflowClient(url)
    experiment = client.get_experiment_by_name("fmnist-knn")
    assert experiment is not None
    assert experiment.artifact_location.startswith("mlflow-artifacts:")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("fmnist.sweep") == "true"]
    jobs = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1
    assert sorted(r.data.params["knn.k"] for r in jobs) == ["1", "3"]
    for run in jobs:
        assert run.info.status == "FINISHED", run.info.run_id
        assert run.data.metrics["accuracy"] > 0.5
        names = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"config.yaml", "confusion_matrix.csv", "confusion_matrix.png"} <= names
        # The server stored the uploads in its own artifact folder.
        stored = list(artifacts.rglob(f"{run.info.run_id}/artifacts/confusion_matrix.csv"))
        assert len(stored) == 1
        local = Path(client.download_artifacts(run.info.run_id, "confusion_matrix.csv", str(tmp_path)))
        assert local.read_bytes() == stored[0].read_bytes()


def test_server_backend_is_postgres_when_installed(backend_uri):
    # CI installs PostgreSQL, so there the sweep above must run on it.
    if (PG_BIN / "initdb").exists():
        assert backend_uri.startswith("postgresql+psycopg2://")
    else:
        assert backend_uri.startswith("sqlite:///")
