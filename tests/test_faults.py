"""Sweeps that survive interrupts, killed processes, a dead tracking server and parallel writers."""

import os
import signal
import socket
import subprocess
import sys
import time

import mlflow
import pytest

from tests.conftest import run_cli

SUBSET = "data.subset=3000"
# Each alpha needs its own neighbour search, so every job does real work.
POINTS = "pca.alpha=range(1,13)"
N_POINTS = 12


def all_runs(uri):
    client = mlflow.MlflowClient(uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids, max_results=1000) if ids else []


def children(uri):
    return [r for r in all_runs(uri) if "mlflow.parentRunId" in r.data.tags]


def start_sweep(args, cwd, uri):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.Popen(
        [sys.executable, "-m", "fmnist.train", "-m", *args, f"tracking.uri={uri}"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def wait_for_line(process, text, timeout=300):
    """Read the process's output until a line contains ``text``; return everything read."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"{text!r} not printed; output:\n{''.join(seen)[-3000:]}")


def test_interrupt_then_kill_then_resume(tmp_path, store):
    args = [SUBSET, POINTS]
    sweep = start_sweep(args, tmp_path, store)
    wait_for_line(sweep, f"3/{N_POINTS} done")
    sweep.send_signal(signal.SIGINT)
    output = sweep.communicate(timeout=120)[0]
    assert sweep.returncode == 130, output[-3000:]
    assert "Interrupted after" in output
    assert "not started:" in output
    statuses = [r.info.status for r in all_runs(store)]
    assert "RUNNING" not in statuses
    parent = next(r for r in all_runs(store) if r.data.tags.get("fmnist.sweep") == "true")
    assert parent.info.status == "KILLED"
    finished_before = sum(r.info.status == "FINISHED" for r in children(store))
    assert finished_before >= 3

    sweep = start_sweep(args, tmp_path, store)
    wait_for_line(sweep, f"{finished_before + 1}/{N_POINTS} done")
    sweep.kill()
    sweep.communicate(timeout=60)

    final = run_cli(["-m", *args], tmp_path, store)
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
    runs = children(store)
    assert not [r for r in all_runs(store) if r.info.status == "RUNNING"]
    finished = [r for r in runs if r.info.status == "FINISHED"]
    hashes = [r.data.tags["fmnist.config_hash"] for r in finished]
    assert len(hashes) == N_POINTS
    assert len(set(hashes)) == N_POINTS
    parents = [r for r in all_runs(store) if r.data.tags.get("fmnist.sweep") == "true"]
    assert len(parents) == 1
    assert parents[0].info.status == "FINISHED"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """A real `mlflow server` on 127.0.0.1 with a SQLite backend; yields (uri, start, stop)."""
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{tmp_path}/server.db",
        "--artifacts-destination", str(tmp_path / "server-artifacts"),
    ]
    processes = []
    # Create the database in WAL mode first (fmnist's store does), as docs/faults.md advises
    # for a SQLite-backed server: the mode is stored in the file, so the server inherits it.
    from fmnist.track.store import client_for

    client_for(f"sqlite:///{tmp_path}/server.db")

    def start():
        process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(process)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
                import urllib.request

                with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise AssertionError("mlflow server did not start")

    def stop():
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    yield uri, start, stop
    stop()


def test_server_down_at_start_fails_fast(tmp_path, server):
    uri, _, _ = server
    started = time.monotonic()
    result = run_cli(["-m", SUBSET, "knn.k=1,3"], tmp_path, uri)
    assert result.returncode == 2
    assert time.monotonic() - started < 60
    output = result.stdout + result.stderr
    assert f"tracking server {uri} is not reachable" in output
    assert "mlflow server" in output
    single = run_cli([SUBSET], tmp_path, uri)
    assert single.returncode == 2
    assert not list(tmp_path.rglob("mlflow_run.json"))


def test_server_lost_mid_sweep_then_resend(tmp_path, server):
    uri, start, stop = server
    start()
    sweep = start_sweep([SUBSET, POINTS, "tracking.http_max_retries=0", "tracking.http_timeout_s=5"], tmp_path, uri)
    wait_for_line(sweep, f"2/{N_POINTS} done")
    stop()
    output = sweep.communicate(timeout=600)[0]
    assert f"{N_POINTS}/{N_POINTS} done" in output, output[-3000:]
    assert "fmnist.runs resend" in output
    records = list(tmp_path.rglob("mlflow_run.json"))
    assert len(records) == N_POINTS

    start()
    sweep_dir = next(tmp_path.glob("multirun/*/*"))
    resend = subprocess.run([sys.executable, "-m", "fmnist.runs", "resend", str(sweep_dir)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert resend.returncode == 0, resend.stdout + resend.stderr
    runs = children(uri)
    finished = [r for r in runs if r.info.status == "FINISHED"]
    assert len({r.data.tags["fmnist.config_hash"] for r in finished}) == N_POINTS
    for run in finished:
        assert "accuracy" in run.data.metrics
        artifacts = {a.path for a in mlflow.MlflowClient(uri).list_artifacts(run.info.run_id)}
        assert "confusion_matrix.csv" in artifacts
    again = subprocess.run([sys.executable, "-m", "fmnist.runs", "resend", str(sweep_dir)],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "0 of 0 pending runs sent" in again.stdout


@pytest.mark.parametrize("backend", ["embedded", "server"])
def test_two_writers_lose_nothing(tmp_path, server, backend):
    uri, start, _ = server
    if backend == "server":
        start()
    else:
        uri = f"sqlite:///{tmp_path}/fresh/mlflow.db"
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    writers = [start_sweep([SUBSET, f"knn.k=range({first},{first + 20},2)", "pca.alpha=4"], tmp_path / name, uri)
               for first, name in ((1, "a"), (2, "b"))]
    outputs = [w.communicate(timeout=600)[0] for w in writers]
    for writer, output in zip(writers, outputs):
        assert writer.returncode == 0, output[-3000:]
        assert "database is locked" not in output
    runs = children(uri)
    statuses = sorted(r.info.status for r in runs)
    assert len(runs) == 20, statuses
    assert statuses == ["FINISHED"] * 20, outputs[0][-2000:] + outputs[1][-2000:]
    names = sorted(e.name for e in mlflow.MlflowClient(uri).search_experiments())
    assert names == ["Default", "fmnist-knn"]
