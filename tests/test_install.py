"""How this copy was installed: the commands we tell users to run, the hook invocation init
writes for it, and the problem notice Claude Code shows when turns cannot upload."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ROOT, read_config, read_settings

import traces

MLFLOW = "'mlflow>=3.10,<4' 'genai-prices>=0.2,<0.3' 'ahocorasick-rs>=1.0,<2'"             # the mlflow extra, for pip
MLFLOW_UVX = "--from 'mlflow>=3.10,<4' --with 'genai-prices>=0.2,<0.3' --with 'ahocorasick-rs>=1.0,<2'"   # and for uvx


def installed(monkeypatch, prefix, source="/src/claudetracing", executable=None):
    """Make this copy look installed (from `source`) in the environment at `prefix`."""
    monkeypatch.setattr(traces, "installed_copy", lambda: True)
    monkeypatch.setattr(traces, "install_source", lambda: source)
    monkeypatch.setattr(sys, "prefix", str(prefix))
    monkeypatch.setattr(sys, "executable", executable or os.path.join(str(prefix), "bin", "python"))


def which_without(monkeypatch, *hidden, found=None):
    """shutil.which, with some commands missing (or found at a path)."""
    real = shutil.which
    found = found or {}
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: found.get(name) if name in hidden or name in found
                        else real(name, *a, **k))


# --- install_hint: one command per way of installing --------------------------------------

def test_a_uv_tool_gets_the_extra_from_where_it_came(tmp_path, monkeypatch):
    monkeypatch.setenv("UV_TOOL_DIR", str(tmp_path / "tools"))
    installed(monkeypatch, tmp_path / "tools" / "claudetracing")
    assert traces.install_hint("mlflow") == "uv tool install '/src/claudetracing[mlflow]'"


def test_the_next_command_is_named_as_the_user_types_it(tmp_path, monkeypatch):
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "cache"))
    installed(monkeypatch, tmp_path / "cache" / "archive-v0" / "x1")
    assert traces.typed_command("search") == "uvx --from '/src/claudetracing[mlflow]' claudetracing search"
    monkeypatch.setattr(traces, "installed_copy", lambda: False)
    monkeypatch.chdir(os.path.dirname(traces.__file__))
    monkeypatch.setattr(sys, "argv", ["traces.py", "init"])
    assert traces.typed_command("doctor") == "python3 traces.py doctor"
    monkeypatch.setattr(sys, "argv", ["/home/ana/.local/bin/traces", "init"])
    assert traces.typed_command("doctor") == "traces doctor"


def test_uvx_runs_the_command_again_with_the_extra(tmp_path, monkeypatch):
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "cache"))
    installed(monkeypatch, tmp_path / "cache" / "archive-v0" / "x1")
    monkeypatch.setattr(sys, "argv", ["traces", "search", "--hours", "2"])
    assert traces.install_hint("mlflow") == "uvx --from '/src/claudetracing[mlflow]' claudetracing search --hours 2"
    assert traces.install_hint("databricks", "init") == \
        "uvx --from '/src/claudetracing[databricks]' claudetracing init"


def test_uvx_from_a_git_url_is_pinned_to_its_commit(tmp_path, monkeypatch):
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "cache"))
    installed(monkeypatch, tmp_path / "cache" / "archive-v0" / "x1", source="git+https://github.com/acme/ct@0abc")
    assert traces.install_hint("mlflow", "init") == \
        "uvx --from 'claudetracing[mlflow] @ git+https://github.com/acme/ct@0abc' claudetracing init"


def test_pipx_injects_the_packages(tmp_path, monkeypatch):
    installed(monkeypatch, tmp_path / ".local" / "share" / "pipx" / "venvs" / "claudetracing")
    assert traces.install_hint("mlflow") == f"pipx inject claudetracing {MLFLOW}"


def test_a_venv_installs_into_its_python(tmp_path, monkeypatch):
    installed(monkeypatch, tmp_path / "venv")
    python = str(tmp_path / "venv" / "bin" / "python")
    assert traces.install_hint("mlflow") == f"{python} -m pip install {MLFLOW}"
    assert traces.install_hint("databricks").endswith(f"{MLFLOW} 'databricks-sdk>=0.40,<1'")


def test_a_vendored_copy_under_the_system_python(tmp_path, monkeypatch):
    monkeypatch.setattr(traces, "installed_copy", lambda: False)
    monkeypatch.setattr(sys, "base_prefix", sys.prefix)
    monkeypatch.chdir(os.path.dirname(traces.__file__))
    which_without(monkeypatch, found={"uvx": "/usr/bin/uvx"})
    assert traces.install_hint("mlflow", "search") == f"uvx {MLFLOW_UVX} python3 traces.py search"
    which_without(monkeypatch, "uvx")
    assert traces.install_hint("mlflow", "search") == f"{sys.executable} -m pip install {MLFLOW}"


def test_the_source_comes_from_direct_url_json(monkeypatch):
    from importlib import metadata

    class Dist:
        def __init__(self, origin):
            self.origin = origin

        def read_text(self, name):
            return json.dumps(self.origin) if name == "direct_url.json" else None

    monkeypatch.setattr(traces, "installed_copy", lambda: True)
    for origin, source in [({"url": "file:///home/ana/src/claude%20tracing", "dir_info": {}}, "/home/ana/src/claude tracing"),
                           ({"url": "https://github.com/acme/ct", "vcs_info": {"vcs": "git", "commit_id": "0abc"}},
                            "git+https://github.com/acme/ct@0abc")]:
        monkeypatch.setattr(metadata, "distribution", lambda name, origin=origin: Dist(origin))
        assert traces.install_source() == source
    monkeypatch.setattr(metadata, "distribution", lambda name: Dist(None))
    assert traces.install_spec("mlflow") == f"claudetracing[mlflow]=={traces.__version__}"   # from an index


def test_extras_match_pyproject():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((Path(ROOT) / "pyproject.toml").read_text())["project"]
    assert {k: tuple(v) for k, v in project["optional-dependencies"].items() if k in traces.EXTRAS} == traces.EXTRAS
    assert set(project["scripts"]) == {"traces", "claudetracing"}


def test_nothing_sends_users_to_the_index_s_other_claudetracing():
    """The index's `claudetracing` is an older, different program: every install line names
    where this one comes from."""
    import re
    wrong = re.compile(r"(pip|pipx) install '?claudetracing|uvx claudetracing|uv tool install '?claudetracing"
                       r"|--from '?claudetracing\[")
    readme = (Path(ROOT) / "README.md").read_text()
    commands = re.findall(r"```(?:sh)?\n(.*?)```", readme, re.S)      # the prose names them to warn
    assert "uvx --from '<repo>[mlflow]' claudetracing init" in "".join(commands)
    for text in (*commands, (Path(ROOT) / "traces.py").read_text()):
        assert not wrong.findall(text)


# --- the hook invocation init writes ---------------------------------------------------------

def test_uvx_is_named_by_its_source_never_by_its_cached_python(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("UV_CACHE_DIR", str(cache))
    installed(monkeypatch, cache / "archive-v0" / "x1")
    invocation = traces.machine_invocation(os.path.abspath(traces.__file__))
    assert invocation == "uvx --from '/src/claudetracing[mlflow]' claudetracing hook"
    assert str(cache) not in invocation
    assert traces.machine_invocation("x", "databricks") == "uvx --from '/src/claudetracing[databricks]' claudetracing hook"


def test_a_configured_uv_cache_is_recognised_by_its_layout(tmp_path, monkeypatch):
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "elsewhere"))
    installed(monkeypatch, tmp_path / "my-cache" / "archive-v0" / "x1")
    assert traces.machine_invocation("x").startswith("uvx --from ")


def init_vendored(repo, monkeypatch, *extra):
    vendored = repo / "tools" / "traces.py"
    vendored.parent.mkdir(exist_ok=True)
    vendored.write_text(open(traces.__file__).read())
    monkeypatch.setattr(traces, "__file__", str(vendored))
    return traces.main(["init", "--local", "--yes", *extra])


def python_without_mlflow(tmp_path, monkeypatch):
    """`python3` on PATH is this Python without its site-packages (so without mlflow)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    (bin_dir / "python3").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def hide_mlflow(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))


def test_a_vendored_copy_without_mlflow_is_wired_and_says_how_to_fix_it(repo, tmp_path, monkeypatch, capsys):
    python_without_mlflow(tmp_path, monkeypatch)
    hide_mlflow(monkeypatch)
    which_without(monkeypatch, "uvx")
    assert init_vendored(repo, monkeypatch) == 0
    assert "python3" in read_settings(repo)["hooks"]["Stop"][0]["hooks"][0]["command"]
    assert "python" not in read_config(repo, local=True)
    err = capsys.readouterr().err
    assert "has no mlflow, so turns will wait in the spool until a Python with mlflow runs it" in err
    assert f"Fix: `{sys.executable} -m pip install {MLFLOW}`" in err or f"Fix: `uvx {MLFLOW_UVX} python3" in err
    status = traces.repo_status(str(repo))
    assert any("turns will wait in the spool" in p and "Fix: `" in p for p in status["problems"])


def test_a_vendored_copy_without_mlflow_runs_its_worker_through_uvx(repo, monkeypatch, capsys):
    hide_mlflow(monkeypatch)
    which_without(monkeypatch, found={"uvx": "/usr/bin/uvx"})
    monkeypatch.setattr(traces, "probe_hook", lambda root: None)
    assert init_vendored(repo, monkeypatch) == 0
    local_hook = (repo / ".claude" / "traces.local.sh").read_text().splitlines()[-1]
    assert local_hook == f'uvx {MLFLOW_UVX} python3 "$CLAUDE_PROJECT_DIR/tools/traces.py" hook'


def test_a_vendored_copy_keeps_the_python_that_has_mlflow(repo, monkeypatch, capsys):
    monkeypatch.setattr(traces, "probe_hook", lambda root: None)
    assert init_vendored(repo, monkeypatch) == 0
    assert read_config(repo, local=True)["python"] == sys.executable


def test_claudetracing_python_pointing_nowhere_is_refused_by_init(repo, monkeypatch, capsys):
    monkeypatch.setenv("CLAUDETRACING_PYTHON", "/nowhere/python")
    assert traces.main(["init", "--local", "--yes"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: CLAUDETRACING_PYTHON=/nowhere/python does not exist")
    assert not (repo / ".claude").exists()


def test_claudetracing_python_pointing_nowhere_is_a_status_problem(repo, monkeypatch, capsys):
    traces.main(["init", "--local", "--yes"])
    monkeypatch.setenv("CLAUDETRACING_PYTHON", "/nowhere/python")
    problems = traces.repo_status(str(repo), check_hook=False)["problems"]
    assert any(p.startswith("CLAUDETRACING_PYTHON=/nowhere/python does not exist, so the worker cannot start")
               for p in problems)


def test_a_kept_python_that_went_away_is_dropped_by_init(repo, monkeypatch, capsys):
    traces.main(["init", "--local", "--yes"])
    config = repo / ".claude" / "traces.local.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "python": "/gone/python"}))
    assert traces.main(["init", "--local", "--yes"]) == 0
    assert "Dropped CLAUDETRACING_PYTHON=/gone/python does not exist" in capsys.readouterr().out
    assert "python" not in read_config(repo, local=True)


def test_a_worker_that_cannot_start_is_recorded_for_claude_code(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAUDETRACING_PYTHON", "/nowhere/python")
    traces.write_job({"session_id": "s1", "hook_event_name": "Stop"})
    traces.start_worker()
    message = traces.recorded_problem()
    assert message.startswith("1 turn(s) waiting: the worker cannot start (CLAUDETRACING_PYTHON=/nowhere/python")


# --- the problem notice at SessionStart ------------------------------------------------------

def notice(env=None):
    started = time.perf_counter()
    done = subprocess.run(["sh", "-c", traces.NOTICE_COMMAND], capture_output=True, env=env or os.environ,
                          timeout=10)
    return done, time.perf_counter() - started


def test_the_notice_prints_nothing_without_a_problem():
    done, seconds = notice()
    assert done.returncode == 0 and done.stdout == b"" and done.stderr == b""
    assert seconds < 1


def test_the_notice_prints_claude_code_hook_json(monkeypatch):
    for _ in range(2):
        traces.write_job({"session_id": "s1", "hook_event_name": "Stop"})
    traces.write_job({"session_id": "s1", "hook_event_name": "SessionEnd"})
    traces.record_problem("the worker's Python (/usr/bin/python3) has no mlflow", "uvx --from x claudetracing init")
    done, _ = notice()
    assert done.returncode == 0
    assert json.loads(done.stdout) == {"systemMessage": "claudetracing: 2 turn(s) waiting: the worker's Python "
                                       "(/usr/bin/python3) has no mlflow. Fix: uvx --from x claudetracing init"}
    traces.clear_problem()
    assert notice()[0].stdout == b""


def test_the_notice_finds_the_default_traces_home(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACES_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    traces.record_problem("the store is unusable", "traces status")
    assert (tmp_path / "data" / "claudetracing" / "state" / "problem.json").exists()
    assert b"the store is unusable" in notice()[0].stdout
    monkeypatch.delenv("XDG_DATA_HOME")
    traces.record_problem("in the home folder", "traces status")
    assert b"in the home folder" in notice()[0].stdout


def test_secrets_in_a_problem_are_redacted():
    traces.record_problem("cannot open http://ana:hunter2secret@mlflow.example.com", "traces status")
    assert "hunter2secret" not in traces.recorded_problem()


def test_the_worker_records_a_missing_mlflow_and_clears_it_after_an_upload(monkeypatch):
    projects = os.path.join(os.environ["HOME"], ".claude", "projects", "p")
    os.makedirs(projects)
    transcript = os.path.join(projects, "s1.jsonl")
    open(transcript, "w").close()
    traces.write_job({"session_id": "s1", "hook_event_name": "Stop", "transcript_path": transcript, "env": {}})

    def missing(env):
        raise traces.MissingExtra("mlflow", "mlflow")
    monkeypatch.setattr(traces, "Uploader", missing)
    assert not traces.drain_spool({})
    problem = traces.recorded_problem()
    assert problem.startswith(f"1 turn(s) waiting: the worker's Python ({sys.executable}) has no mlflow. Fix: ")

    class Fine:
        def __init__(self, env):
            pass

        def activate(self):
            pass
    monkeypatch.setattr(traces, "Uploader", Fine)
    monkeypatch.setattr(traces, "trace_session", lambda *a, **k: 1)
    assert traces.drain_spool({})
    assert traces.recorded_problem() is None


@pytest.mark.parametrize("error, env, fix", [
    ("upload to http://m.example.com failed: RestException: 401 Unauthorized", {"MLFLOW_TRACKING_URI": "http://m.example.com"},
     "traces init --tracking-uri http://m.example.com"),
    ("cannot open experiment 'x' at databricks: PERMISSION_DENIED", {"MLFLOW_TRACKING_URI": "databricks",
                                                                      "DATABRICKS_CONFIG_PROFILE": "work"},
     "databricks auth login --profile work"),
    ("cannot open sqlite:///h/mlflow.db: OperationalError: disk I/O error", {}, "traces status"),
])
def test_problems_only_the_user_can_fix(error, env, fix):
    assert traces.user_problem(traces.BackendError(error), env) == (error, fix)


def test_a_server_that_is_down_is_not_a_problem_to_show():
    error = traces.BackendError("upload to http://m.example.com failed: ConnectionError: [Errno 111] refused")
    assert traces.user_problem(error, {"MLFLOW_TRACKING_URI": "http://m.example.com"}) is None


def test_status_shows_the_recorded_problem(repo):
    traces.record_problem("credentials refused", "traces init --tracking-uri http://m")
    problems = traces.repo_status(str(repo), check_hook=False)["problems"]
    assert "0 turn(s) waiting: credentials refused. Fix: traces init --tracking-uri http://m" in problems


# --- init and disable wire the notice --------------------------------------------------------

def notice_commands(repo):
    hooks = read_settings(repo).get("hooks", {})
    return [h["command"] for g in hooks.get("SessionStart", []) for h in g["hooks"]]


def test_init_adds_the_notice_and_disable_removes_it(repo, capsys):
    assert traces.main(["init", "--local", "--yes"]) == 0
    assert notice_commands(repo) == [traces.NOTICE_COMMAND]
    assert traces.main(["disable"]) == 0
    assert not (repo / ".claude" / "settings.json").exists()


def test_a_repository_wired_before_the_notice_gets_it_from_init(repo, capsys):
    settings = {"hooks": {**{e: [{"hooks": [{"type": "command", "command": traces.HOOK_COMMAND}]}]
                             for e in traces.HOOK_EVENTS},
                          "SessionStart": [{"hooks": [{"type": "command", "command": "echo hello"}]}]}}
    (repo / ".claude").mkdir()
    (repo / ".claude" / "settings.json").write_text(json.dumps(settings, indent=2) + "\n")
    assert traces.main(["init", "--local", "--yes"]) == 0
    assert notice_commands(repo) == ["echo hello", traces.NOTICE_COMMAND]


# --- the real uvx ----------------------------------------------------------------------------

# `make deps` installs uv into the venv (the dev extra): CI runs this too.
UVX = shutil.which("uvx") or shutil.which("uvx", path=os.path.dirname(sys.executable))


@pytest.mark.slow
@pytest.mark.skipif(not UVX, reason="uv is not installed")
def test_uvx_from_this_checkout_runs_and_writes_a_hook_that_survives_a_cache_clean(tmp_path):
    env = {**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-cache")}
    done = subprocess.run([UVX, "--from", str(ROOT), "claudetracing", "--version"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.stdout.strip() == f"traces {traces.__version__}", done.stderr
    done = subprocess.run([UVX, "--from", str(ROOT), "python", "-c",
                           "import os, traces; print(traces.machine_invocation(os.path.abspath(traces.__file__)))"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.stdout.strip() == f"uvx --from '{ROOT}[mlflow]' claudetracing hook", done.stderr
