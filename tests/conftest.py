"""Shared fixtures: every test runs in its own HOME and TRACES_HOME, never the real ones."""

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS.parent), str(TESTS)]

from helpers import git  # noqa: E402
from servers_fixtures import *  # noqa: E402,F401,F403


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A private HOME, TRACES_HOME and git identity; no MLflow or Claude settings leak in."""
    home = tmp_path / "home"
    home.mkdir()
    for key in list(os.environ):
        if key.startswith(("MLFLOW_", "CLAUDETRACING_", "DATABRICKS_", "CLAUDE_", "XDG_", "GEMINI_", "COPILOT_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TRACES_HOME", str(tmp_path / "traces-home"))
    # Workers the tests start stay warm for seconds, not minutes, after their last job.
    monkeypatch.setenv("CLAUDETRACING_WORKER_IDLE", "3")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.com")
    yield home
    # MLflow's tracking URI is process-wide, and an in-process upload points it at its store:
    # the next test must not inherit this one's store (nor our record of who set it).
    if "mlflow" in sys.modules:
        sys.modules["mlflow"].set_tracking_uri(None)
    if "traces" in sys.modules:
        sys.modules["traces"].ACTIVE.clear()


@pytest.fixture(params=["ahocorasick_rs", "without ahocorasick_rs"])
def both_redaction_paths(request, monkeypatch):
    """Redaction as a worker runs it, the trigger scan behind ahocorasick_rs's pre-filter, and
    as the vendored copy runs it without the library: the two must redact alike."""
    import traces
    if request.param == "without ahocorasick_rs":
        monkeypatch.setitem(sys.modules, "ahocorasick_rs", None)  # `import` raises ImportError
    monkeypatch.setattr(traces, "_PREFILTER", [])
    traces._REDACTED.clear()  # strings redacted the other way
    assert (traces._prefilter() is None) == (request.param == "without ahocorasick_rs")
    yield request.param
    traces._REDACTED.clear()


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git repository with one commit and an origin remote; the current directory."""
    path = tmp_path / "widgets"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "remote", "add", "origin", "git@github.com:acme/widgets.git")
    (path / "README.md").write_text("widgets\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "first")
    monkeypatch.chdir(path)
    return path
