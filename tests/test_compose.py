"""docker-compose.yml validates offline with `docker-compose config -q` (no Docker engine)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO

COMPOSE = shutil.which("docker-compose")
pytestmark = pytest.mark.skipif(COMPOSE is None, reason="the docker-compose binary is not installed")


def compose(*args: str, password: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "MLFLOW_"))}
    if password is not None:
        env["POSTGRES_PASSWORD"] = password
    return subprocess.run(
        [COMPOSE, "--env-file", ".env.example", *args], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=120,
    )


def test_compose_config_is_valid():
    result = compose("config", "-q", password="not-a-secret")
    assert result.returncode == 0, result.stderr


def test_compose_requires_postgres_password():
    result = compose("config", "-q", password=None)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_compose_services():
    result = compose("config", password="not-a-secret")
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]

    assert services["postgres"]["healthcheck"]["test"][1].startswith("pg_isready")

    mlflow = services["mlflow"]
    port = mlflow["ports"][0]
    # docker-compose 1.29 prints the short form, compose v2 the long one.
    host_ip = port["host_ip"] if isinstance(port, dict) else port.split(":")[0]
    assert host_ip == "127.0.0.1"
    command = " ".join(mlflow["command"])
    assert "--allowed-hosts" in command
    assert "mlflow:5000" in command
    assert "not-a-secret" not in command, "the password must not be on the command line"
    assert mlflow["environment"]["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg2://")
    assert "healthcheck" in mlflow

    trainer = services["trainer"]
    device = trainer["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia"
    assert trainer["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert trainer["depends_on"]["mlflow"]["condition"] == "service_healthy"


def test_env_example_lists_every_setting():
    text = (REPO / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)(?::?[-?])?", text))
    listed = {line.split("=", 1)[0] for line in (REPO / ".env.example").read_text().splitlines()
              if line and not line.startswith("#")}
    assert used - listed == set()
