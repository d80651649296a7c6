"""pytest fixtures around tests/servers.py; conftest.py does `from servers_fixtures import *`."""

from __future__ import annotations

import uuid

import mlflow
import pytest
from servers import MlflowServer, Postgres, find_pg_bindir

__all__ = ["postgres", "mlflow_server", "mlflow_client"]

needs_postgres = pytest.mark.skipif(
    find_pg_bindir() is None,
    reason="PostgreSQL server binaries (initdb/pg_ctl) not installed; apt-get install postgresql (Debian/Ubuntu)",
)


@pytest.fixture(scope="session")
def postgres():
    """One cluster per session (~0.5 s); tests get their own database from it."""
    if find_pg_bindir() is None:
        pytest.skip(needs_postgres.kwargs["reason"])
    with Postgres() as pg:
        yield pg


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=needs_postgres)])
def mlflow_server(request):
    """A fresh MLflow server (~4-5 s to start) on an empty SQLite or PostgreSQL backend.

    Function-scoped because tests may stop/restart it; tests using it run once per backend.
    """
    backend = None
    if request.param == "postgres":
        pg = request.getfixturevalue("postgres")
        backend = pg.create_database(f"t_{uuid.uuid4().hex[:12]}")
    with MlflowServer(backend) as server:
        yield server


@pytest.fixture
def mlflow_client(mlflow_server, monkeypatch):
    """Point the in-process mlflow client at `mlflow_server`, failing fast when it is down.

    Defaults would retry a refused connection 7 times with exponential backoff (minutes).
    Traces are exported synchronously so they are in the server when `end()` returns.
    """
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    mlflow.set_tracking_uri(mlflow_server.url)
    yield mlflow_server
    mlflow.set_tracking_uri(None)
