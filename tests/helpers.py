"""Helpers shared by the tests (a plain module: conftest.py files are for fixtures)."""

import json
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
RECORDED = FIXTURES / "cc-2.1.330"


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def read_settings(repo_path, local=False):
    name = "settings.local.json" if local else "settings.json"
    return json.loads((Path(repo_path) / ".claude" / name).read_text())


def traces_cli(*args, input=None, env=None, cwd=None):
    """Run traces as a separate process, the way Claude Code and users do."""
    return subprocess.run([sys.executable, str(ROOT / "traces.py"), *args], input=input, env=env,
                          cwd=cwd, capture_output=True, text=isinstance(input, str) or input is None)
