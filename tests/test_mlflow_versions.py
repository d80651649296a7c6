"""The quick readers on the oldest MLflow the extra allows (mlflow_versions.OLDEST), the newest
being the test venv's own (test_search.py, test_search_server.py): a store that release writes,
read with sqlite3 and no mlflow import, gives byte for byte what that release's client gives;
so does its `mlflow server`, read over REST. Stores are written by the engine running under
that release, as its users' would be."""

import json
import shutil
import sqlite3
import sys

import pytest
from mlflow_versions import OLDEST, READS, configure, mlflow_python, run_script
from servers import MlflowServer

pytestmark = pytest.mark.slow     # an environment per release (seconds once cached), and its mlflow imports


def written(python, folder, uri=None):
    """Fill a store (or the server at uri) under python's MLflow; what its client then reads."""
    import trace_store
    if not trace_store.recorded_sessions():
        pytest.skip(f"no recorded Claude Code transcripts in {trace_store.RECORDED}")
    return json.loads(run_script(python, "write", str(folder), *([uri] if uri else []), reader="mlflow"))


@pytest.fixture(scope="session")
def oldest(tmp_path_factory):
    """(python of an environment with the oldest MLflow, folder of a store it wrote, what its client read)."""
    python = mlflow_python(OLDEST)
    folder = tmp_path_factory.mktemp("mlflow-" + OLDEST)
    read = written(python, folder)
    shutil.copy(folder / "mlflow.db", folder / "as-written.db")    # should a test's mlflow migrate the store
    return python, folder, read


def revision(path):
    with sqlite3.connect(path) as db:
        return db.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def same_output(through_mlflow, fast):
    """Each command printed the same and exited the same; the quick reader said nothing else."""
    for argv, (code, out, _), (code2, out2, err2) in zip(READS, through_mlflow["outputs"], fast["outputs"], strict=True):
        assert (code, out) == (code2, out2), argv
        assert err2 == "", argv
    assert all("No traces found" not in out for _, out, _ in fast["outputs"])


def test_a_store_of_the_oldest_mlflow_is_read_quickly_and_exactly(oldest):
    _, folder, through_mlflow = oldest
    before = revision(folder / "mlflow.db")
    fast = json.loads(run_script(sys.executable, "read", cwd=folder / "repo"))
    assert fast["mlflow"] is False          # the quick reader, not a fall-back to the test venv's mlflow
    same_output(through_mlflow, fast)
    same_output(through_mlflow, json.loads(run_script(sys.executable, "read", "--scan", cwd=folder / "repo")))
    assert revision(folder / "mlflow.db") == before         # nothing migrated the store meanwhile


def test_a_layout_the_reader_does_not_know_is_read_through_mlflow_saying_why(oldest, repo, tmp_path):
    """MLflow 3.17 added ten trace_info columns together: a store with one of them is no layout
    this reader knows. MLflow reads it all the same, and so do we, through mlflow."""
    python, folder, _ = oldest
    odd = tmp_path / "odd.db"
    shutil.copy(folder / "as-written.db", odd)
    with sqlite3.connect(odd) as db:
        db.execute("ALTER TABLE trace_info ADD COLUMN trace_name VARCHAR(250)")
    configure(repo, f"sqlite:///{odd}")
    slow = json.loads(run_script(python, "read", cwd=repo))
    assert slow["mlflow"] is True
    for argv, (code, out, err) in zip(READS, slow["outputs"], strict=True):
        assert code == 0 and "No traces found" not in out, argv
        assert (f"Note: reading {odd} through mlflow (seconds, not milliseconds): its trace_info table has "
                "trace_name but no column session_id, input_tokens") in err, argv


def test_a_server_of_the_oldest_mlflow_is_read_over_rest_exactly(oldest, tmp_path):
    python, _, _ = oldest
    with MlflowServer(python=python) as server:
        through_mlflow = written(python, tmp_path, server.url)
        fast = json.loads(run_script(sys.executable, "read", cwd=tmp_path / "repo"))
    assert fast["mlflow"] is False
    same_output(through_mlflow, fast)
