#!/usr/bin/env python3
"""traces: MLflow tracing for coding-agent sessions (Claude Code, Codex CLI, Gemini CLI,
GitHub Copilot CLI). This one file is the whole program: the `traces` command.

Every agent turn (one prompt and everything the agent did until it stopped) becomes one MLflow
trace: the prompt and the answer, a span per model call with its tokens and cost, a span per
tool call with its input and result, subagents nested under the call that launched them, and
tags for the git commit and branch, the files changed, tokens and cost.

How capture works: the agent runs `traces hook` when a turn ends. The hook only writes a small
job into a spool and returns; a detached worker (`traces sync`) reads the session file, builds
the traces, redacts secrets and uploads them, retrying until the backend takes them. Nothing
the backend does can slow the agent down or lose a turn. The reading commands (`search`,
`report`, `list`) read the store without importing mlflow where they can.

It needs only the standard library for everything that does not talk to MLflow; uploading and
reading through MLflow need the `[mlflow]` extra (or `[databricks]`). Install it from its
repository (the name `claudetracing` on the package index is another, older project), or copy
this file into a repository and run `python3 traces.py init`.

The sections, in the order data flows (each opens with a banner):
   1. Constants
   2. Errors, paths, log
   3. How this copy was installed: the command that gives it what it lacks
   4. Claude Code settings files
   5. Our configuration files, and the credentials kept apart from them
   6. Databricks: CLI profiles and sign-in, and its REST API behind a bearer token
   7. Backends: the local store, an MLflow server, a Databricks workspace
   8. Transcript reading: JSONL lines with their byte offsets
   9. Turns and usage: one real prompt and everything until Claude stopped
  10. The agent seam: each agent's reader turns its session files into the same turn records
  11. Claude Code sessions; 12. Codex CLI sessions; 13. Gemini CLI sessions;
  14. Copilot CLI sessions
  15. Enrichments: the tags computed per turn
  16. Redaction: secrets never leave the machine
  17. Spool and hook: record that a turn ended, durably and fast
  18. MLflow export: one trace per turn (TraceBuilder builds it, Uploader writes it)
  19. Worker: spool, turns, traces, with per-session checkpoints
  20. The terminal: text from a trace is shown, never obeyed
  21. Reading back: the stores, the backend, search filters and output formats
  22. Setup helpers; 23. Claude Code setup; 24. Codex CLI setup; 25. Gemini CLI setup;
  26. Copilot CLI setup
  27. Checks (doctor): each part of the path a turn takes, and a test turn down it
  28. Commands: one section per command, in `traces --help` order; the parser and `main` last
"""

__version__ = "0.13.1"

import json
import os
import re
import sys
import time

# The hook runs at the end of every Claude turn, so the heavier modules (subprocess, shutil,
# argparse, datetime, mlflow) are imported inside the functions that need them.


###############################################################################
# Constants
###############################################################################

SETTINGS_FILE = os.path.join(".claude", "settings.json")
LOCAL_SETTINGS_FILE = os.path.join(".claude", "settings.local.json")
HOOK_EVENTS = ("Stop", "SubagentStop", "SessionEnd")

# Our configuration lives in files of our own next to Claude Code's settings, never in their
# `env` block: Claude Code exports that block to every command Claude runs, so an
# MLFLOW_TRACKING_URI there would send the user's own MLflow runs into our store.
CONFIG_FILE = os.path.join(".claude", "traces.json")              # committed: what the team shares
LOCAL_CONFIG_FILE = os.path.join(".claude", "traces.local.json")  # gitignored: this machine's part
LOCAL_HOOK_FILE = os.path.join(".claude", "traces.local.sh")      # gitignored: how this machine runs the hook

# One committed command for every teammate. It runs the hook in the background, so Claude
# Code waits for `sh` alone, not for Python to start. The hook gets Claude's stdin through fd 3
# (a background job's own stdin is /dev/null); stdout and stderr go to /dev/null first, so
# that no copy of Claude's pipes outlives `sh`. A checkout where `traces` is not on PATH (a
# venv, uvx) says how to reach it in LOCAL_HOOK_FILE; a vendored copy is named in the command
# itself. A teammate who has not installed traces sees nothing at all.
DEFAULT_INVOCATION = "traces hook"


def hook_runner(invocation=DEFAULT_INVOCATION):
    """The part of the hook command that starts traces (in the foreground)."""
    local = f'"$CLAUDE_PROJECT_DIR/{LOCAL_HOOK_FILE}"'
    return f"if [ -f {local} ]; then . {local}; else {invocation}; fi"


def hook_command(invocation=DEFAULT_INVOCATION):
    return f"exec 3<&0 >/dev/null 2>&1; ({hook_runner(invocation)} <&3 &); true"


HOOK_COMMAND = hook_command()
# A problem the user must fix before waiting turns can upload (no mlflow, credentials refused)
# is kept in TRACES_HOME/state/problem.json as the JSON a Claude Code hook prints, and a
# SessionStart hook shows it. That hook is a shell one-liner: it starts no Python, reads one
# file, and prints nothing (so adds nothing to Claude's context) when there is no problem.
PROBLEM_FILE = os.path.join("state", "problem.json")
NOTICE_EVENT = "SessionStart"
NOTICE_COMMAND = ('f="${TRACES_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/claudetracing}/%s"; '
                  '[ -f "$f" ] && cat "$f" 2>/dev/null; true') % PROBLEM_FILE
# Budgets work the same way: the worker, which knows what each session, day, week and branch
# has spent, keeps in TRACES_HOME/state/budget/ the exact JSON a UserPromptSubmit hook prints
# (a warning, or a refusal of the prompt) for each session and each project, named for the
# local day it holds for. The hook runs before every prompt and Claude waits for it: it starts
# no Python (`date`, and `sed` only when a session has a file: the file is printed by the
# shell itself), and prints nothing when no budget is near. No nested ${A:-${B}} and a braced
# ${CLAUDE_PROJECT_DIR}: Gemini CLI, which runs the same command, rewrites the other forms.
SUMMARY_FILE = os.path.join("state", "summary.json")
BUDGET_DIR = os.path.join("state", "budget")
BUDGET_EVENT = "UserPromptSubmit"
BUDGET_COMMAND = ('d=$TRACES_HOME; [ -n "$d" ] || {{ d=$XDG_DATA_HOME; [ -n "$d" ] || d=$HOME/.local/share; '
                  'd=$d/claudetracing; }}; d=$d/{dir}; t=$(date +%F); v=; f="$d/projects${{CLAUDE_PROJECT_DIR}}/$t.json"; '
                  'set -- "$d"/*."$t".json; if [ -f "$1" ]; then '
                  's=$(sed -n \'s/.*"session_id" *: *"\\([A-Za-z0-9_-]*\\)".*/\\1/p\'); '
                  '[ -f "$d/$s.$t.json" ] && f="$d/$s.$t.json"; fi; [ -f "$f" ] && IFS= read -r v < "$f"; '
                  'printf %s "$v"; true').format(dir=BUDGET_DIR)
# Hook commands written by older tools (and by traces before 0.9, which read
# CLAUDETRACING_HOOK from the settings' env); init replaces them, disable removes them.
RETIRED_HOOK_MARKERS = ("mlflow.claude_code.hooks", "claudetracing.hooks", "CLAUDETRACING_HOOK")

ENV_URI = "MLFLOW_TRACKING_URI"
ENV_EXPERIMENT = "MLFLOW_EXPERIMENT_NAME"
ENV_EXPERIMENT_ID = "MLFLOW_EXPERIMENT_ID"
ENV_TOKEN = "MLFLOW_TRACKING_TOKEN"
ENV_USERNAME = "MLFLOW_TRACKING_USERNAME"
ENV_PASSWORD = "MLFLOW_TRACKING_PASSWORD"
ENV_HOOK = "CLAUDETRACING_HOOK"
ENV_ENRICHMENTS = "CLAUDETRACING_ENRICHMENTS"
ENV_REDACT = "CLAUDETRACING_REDACT"
ENV_REDACT_PATTERNS = "CLAUDETRACING_REDACT_PATTERNS"
ENV_MAX_PAYLOAD = "CLAUDETRACING_MAX_PAYLOAD"
ENV_PYTHON = "CLAUDETRACING_PYTHON"
ENV_WORKER_IDLE = "CLAUDETRACING_WORKER_IDLE"       # seconds a worker waits for the next turn
ENV_READER = "CLAUDETRACING_READER"               # mlflow: read through the mlflow client everywhere
ENV_HOME = "TRACES_HOME"
ENV_AGENT = "CLAUDETRACING_AGENT"                 # set by our Codex, Gemini and Copilot hook commands
ENV_PROBE = "CLAUDETRACING_PROBE"
ENV_TRACE_LOCATION = "CLAUDETRACING_TRACE_LOCATION"   # Unity Catalog trace tables: catalog.schema.prefix
ENV_PROFILE = "DATABRICKS_CONFIG_PROFILE"             # the Databricks CLI profile (local settings only)

# Inside this program a setting goes by the variable name MLflow or we would read it under;
# in our files by a plain key. Repositories set up before 0.9 hold the same settings in the
# settings' env block: they are read from there too, until init moves them.
CONFIG_KEYS = {
    "tracking_uri": ENV_URI, "experiment": ENV_EXPERIMENT, "experiment_id": ENV_EXPERIMENT_ID,
    "trace_location": ENV_TRACE_LOCATION, "databricks_profile": ENV_PROFILE,
    "enrichments": ENV_ENRICHMENTS, "redact": ENV_REDACT, "redact_patterns": ENV_REDACT_PATTERNS,
    "max_payload": ENV_MAX_PAYLOAD, "traces_home": ENV_HOME, "python": ENV_PYTHON,
}
# Credentials for an MLflow server: never in a repository's files, never copied into a job
# (a file that may wait in the spool for days). They live in TRACES_HOME/credentials.json
# (0600), by server URL, or in the user's own environment; the worker reads them when it uploads.
CREDENTIAL_KEYS = (ENV_TOKEN, ENV_USERNAME, ENV_PASSWORD)
SECRET_ENV_KEYS = (ENV_TOKEN, ENV_PASSWORD, "DATABRICKS_CLIENT_SECRET", "DATABRICKS_TOKEN")
# The settings env keys that versions before 0.9 wrote; init moves them, disable removes them.
OUR_ENV_KEYS = tuple(CONFIG_KEYS.values()) + CREDENTIAL_KEYS + (ENV_HOOK,)
# What a job carries from the hook's own environment to the worker, which may run later from
# a terminal (`traces sync`): where a service principal signs in, and where Claude's files are.
JOB_ENV_KEYS = ("DATABRICKS_HOST", "DATABRICKS_CLIENT_ID", "DATABRICKS_CONFIG_FILE", "HOME", "CLAUDE_CONFIG_DIR")

# Trace tags of our own (enrichment tags are listed in the registry below).
TAG_TURN = "claudetracing.turn_id"
TAG_TOOLS = "claudetracing.tools"
TAG_TOOL_ERRORS = "claudetracing.tool_errors"
TAG_VERSION = "claudetracing.version"
TAG_STATUS = "claudetracing.status"              # ok, error (a tool failed) or interrupted
TAG_COMMAND = "claudetracing.command"            # the custom slash command that started the turn
TAG_AGENT = "agent"                              # claude, codex, gemini or copilot
DEFAULT_AGENT = "claude"                         # jobs and traces from before Codex support are Claude Code's
TAG_ENRICHMENTS = "claudetracing.enrichments"   # experiment tag: the enrichments the team agreed on
META_PARENT = "claudetracing.parent_session"
META_FORKED_FROM = "claudetracing.forked_from"

# What the extras of pyproject.toml install: messages name them for a copy that has no
# package metadata to read (a vendored traces.py).
# ahocorasick-rs speeds up the worker's redaction (see Redaction), which runs without it too.
EXTRAS = {"mlflow": ("mlflow>=3.10,<4", "genai-prices>=0.2,<0.3", "ahocorasick-rs>=1.0,<2"),
          "databricks": ("mlflow>=3.10,<4", "genai-prices>=0.2,<0.3", "ahocorasick-rs>=1.0,<2",
                         "databricks-sdk>=0.40,<1")}

DEFAULT_MAX_PAYLOAD = 100_000      # characters per span input/output
TAG_VALUE_LIMIT = 8000             # MLflow's limit on a trace tag value
STOP_CATCH_UP_SECONDS = 10         # how long the worker waits for a lagging transcript
RETRY_FOR_SECONDS = 15 * 60        # a worker retries a failing backend this long, then exits
IMPORT_QUIET_SECONDS = 300        # import takes a session unchanged this long as over
IMPORT_BATCH_TRACES = 50           # import writes traces this many at a time ...
IMPORT_BATCH_CHARS = 4_000_000     # ... or fewer, when their spans hold this much text
WORKER_IDLE_SECONDS = 180          # a worker stays warm this long after the spool empties
WORKER_POLL_SECONDS = 0.2          # how often a warm worker looks at the spool


###############################################################################
# Errors, paths, log
###############################################################################

class TracesError(Exception):
    """A failure the user can act on: the CLI prints `Error: <message>` and exits 1."""


def traces_home():
    """Where the local store, the spool, checkpoints and the log live."""
    if os.environ.get(ENV_HOME):
        return os.path.abspath(os.path.expanduser(os.environ[ENV_HOME]))
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "claudetracing")


def private_dir(*parts):
    """Create (if needed) a folder only the user can read: it holds transcripts' content."""
    path = os.path.join(*parts)
    os.makedirs(path, mode=0o700, exist_ok=True)
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def write_atomic(path, data, mode=0o600):
    """Write bytes to path through a temp file and a rename, so readers never see half."""
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def read_json_file(path, default=None):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return default


def log(message):
    """Append one line to TRACES_HOME/traces.log and return its path (None when it cannot be
    written). Never pass transcript content here; what an error message may quote (a URL with
    a password, a token) is redacted."""
    message = redact_text(message)
    try:
        home = private_dir(traces_home())
        path = os.path.join(home, "traces.log")
        if os.path.exists(path) and os.path.getsize(path) > 1_000_000:
            os.replace(path, path + ".1")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        os.write(fd, f"{stamp} [{os.getpid()}] {message}\n".encode())
        os.close(fd)
    except OSError:
        return None
    return path


def home_problem(home):
    """Why TRACES_HOME cannot hold the spool, the store and the log, or None.

    Looks at the nearest part of the path that exists: a file in the way stops even root,
    whom permission bits do not stop, and a missing parent is created when needed.
    """
    fix = f"set {ENV_HOME} to a folder you can write to (init keeps it as the traces_home setting)"
    existing = home
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        where = "is" if existing == home else f"cannot be created: {existing} is"
        return f"{home} {where} a file, not a folder; {fix}"
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "is not writable" if existing == home else f"cannot be created: {existing} is not writable"
        return f"{home} {where}; {fix}"
    for part in ("spool", "state"):
        path = os.path.join(home, part)
        if os.path.lexists(path) and not os.path.isdir(path):
            return f"{path} is not a folder; {fix}"
    return None


def check_home():
    """TRACES_HOME, or an error naming it when it cannot be used (nothing is created)."""
    home = traces_home()
    problem = home_problem(home)
    if problem:
        raise TracesError(problem)
    return home


def usable_home():
    """TRACES_HOME, created if needed."""
    return private_dir(check_home())


def check_local_store(path):
    """An error unless the local store's SQLite file can be read (or is not there yet), found
    before MLflow, which would create files next to it, gets to fail on it."""
    import sqlite3
    if not os.path.lexists(path):
        return
    problem = None if os.path.isfile(path) else "it is not a file"
    if problem is None:
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                db.execute("PRAGMA schema_version").fetchone()
            finally:
                db.close()
        except sqlite3.Error as e:
            problem = f"it cannot be read as an SQLite database ({e})"
    if problem:
        raise TracesError(f"cannot open the local store {path}: {problem}; move it aside, or set {ENV_HOME} "
                          f"to another folder")


def inside(path, root):
    return isinstance(path, str) and (path == root or path.startswith(root.rstrip(os.sep) + os.sep))


def claude_projects_dir():
    config = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")
    return os.path.join(config, "projects")


def project_folder(cwd):
    """Claude Code's transcript folder for a working directory."""
    return os.path.join(claude_projects_dir(), re.sub(r"[^A-Za-z0-9]", "-", cwd))


def run(argv, cwd=None, timeout=10):
    """Run a small command and return its stripped stdout, or None when it fails."""
    import subprocess
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def repo_root(path):
    """The top of the git work tree holding path, else path itself. Found by looking for `.git`
    upwards, as git does: starting git for it costs a reading command a tenth of its time."""
    here = os.path.realpath(path)
    while not os.path.exists(os.path.join(here, ".git")):
        if os.path.dirname(here) == here:
            return os.path.abspath(path)
        here = os.path.dirname(here)
    return here


def short_error(error):
    """One line about an exception, without request bodies (they can hold transcript content)."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    # MLflow buries urllib3's reason (timed out, refused) past the first 200 characters.
    cause = re.search(r"Read timed out\. \(read timeout=[^)]*\)|\[Errno -?\d+\] [^\"')]+"
                      r"|certificate verify failed[^\"')]*", text)
    return f"{type(error).__name__}: " + (f"{cause.group()}: " if cause else "") + text[:200]


def spoken(words, last="and"):
    """Words as a sentence lists them: "a", "a and b", "a, b and c"."""
    words = list(words)
    return f"{', '.join(words[:-1])} {last} {words[-1]}" if len(words) > 1 else "".join(words)


def local_store_uri():
    return "sqlite:///" + os.path.join(traces_home(), "mlflow.db")


def strip_credentials(url):
    return re.sub(r"(?<=://)[^/@\s]+@", "", url)


def repo_name_from_remote(url):
    """`org/repo` from git@host:org/repo.git, https://host/org/repo(.git), ssh://..."""
    match = re.search(r"[:/]([^/:\s]+/[^/\s]+?)(?:\.git)?/?$", strip_credentials(url))
    return match.group(1) if match else None


###############################################################################
# How this copy was installed: the command that gives it what it lacks
###############################################################################

def installed_copy():
    """True when this file was installed by pip, uv or pipx (not vendored, not editable)."""
    return os.path.basename(os.path.dirname(os.path.abspath(__file__))) in ("site-packages", "dist-packages")


def install_source():
    """Where an installed copy came from (PEP 610 direct_url.json), in the form pip, uv and
    pipx take back: a folder, a `git+URL@commit`, an archive's URL. None when it came from a
    package index or is not installed."""
    if not installed_copy():
        return None
    from importlib import metadata
    try:
        origin = json.loads(metadata.distribution("claudetracing").read_text("direct_url.json") or "null")
    except (metadata.PackageNotFoundError, ValueError):
        return None
    url = origin.get("url") if isinstance(origin, dict) else None
    if not isinstance(url, str):
        return None
    vcs = origin.get("vcs_info")
    if isinstance(vcs, dict):
        return f"{vcs.get('vcs', 'git')}+{url}" + (f"@{vcs['commit_id']}" if vcs.get("commit_id") else "")
    if url.startswith("file://"):
        import urllib.parse
        return urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    return url


def install_spec(extra):
    """This copy with an extra, as an installer takes it. A copy from a package index is
    pinned to its version: the index's older `claudetracing` is another program."""
    source = install_source()
    if source is None:
        return f"claudetracing[{extra}]=={__version__}"
    if os.path.isabs(source):
        return f"{source}[{extra}]"
    return f"claudetracing[{extra}] @ {source}"


def uv_dir(kind):
    """uv's cache ("cache") or tool ("tools") folder, where uv puts them unless told otherwise."""
    variable, xdg, default = {"cache": ("UV_CACHE_DIR", "XDG_CACHE_HOME", ".cache"),
                              "tools": ("UV_TOOL_DIR", "XDG_DATA_HOME", os.path.join(".local", "share"))}[kind]
    if os.environ.get(variable):
        return os.path.abspath(os.path.expanduser(os.environ[variable]))
    base = os.environ.get(xdg) or os.path.join(os.path.expanduser("~"), default)
    return os.path.join(base, "uv", "tools") if kind == "tools" else os.path.join(base, "uv")


def in_uv_cache(prefix=None):
    """True for an environment uvx (or `uv run --with`) made in uv's cache: `uv cache clean`
    deletes it, so nothing durable may name its paths. uv names them <cache>/archive-vN/<id>."""
    prefix = prefix or sys.prefix
    return inside(prefix, uv_dir("cache")) or os.path.basename(os.path.dirname(prefix)).startswith("archive-v")


def typed_command(command):
    """`traces <command>` as the user types it with the copy running now: under uvx there is no
    `traces` on PATH, and a vendored copy is run by its path."""
    import shlex
    if installed_copy() and in_uv_cache():
        return f"uvx --from {shlex.quote(install_spec('mlflow'))} claudetracing {command}"
    if installed_copy() or os.path.basename(sys.argv[0]) in ("traces", "claudetracing"):
        return f"traces {command}"
    return f"python3 {shlex.quote(os.path.relpath(os.path.abspath(__file__)))} {command}"


def install_hint(extra="mlflow", command=None):
    """The one command that gives this copy of traces the packages of `extra`, fitted to how
    it was installed. Where the fix is to run traces another way (uvx), it runs `command`
    (default: the command line being run)."""
    import shlex
    import shutil
    if command is None:
        command = shlex.join(sys.argv[1:])
    packages = " ".join(shlex.quote(p) for p in EXTRAS[extra])
    python = shlex.quote(sys.executable)
    if installed_copy():
        spec = shlex.quote(install_spec(extra))
        if in_uv_cache():
            return f"uvx --from {spec} claudetracing {command}".rstrip()
        if inside(sys.prefix, uv_dir("tools")):
            return f"uv tool install {spec}"
        if os.sep + os.path.join("pipx", "venvs") + os.sep in sys.prefix + os.sep:
            return f"pipx inject {shlex.quote(os.path.basename(sys.prefix))} {packages}"
    elif sys.prefix == sys.base_prefix and shutil.which("uvx"):
        # A vendored copy run by the system's Python, which often refuses pip (PEP 668).
        first, *more = EXTRAS[extra]
        withs = "".join(f" --with {shlex.quote(p)}" for p in more)
        me = shlex.quote(os.path.relpath(os.path.abspath(__file__)))
        return f"uvx --from {shlex.quote(first)}{withs} python3 {me} {command}".rstrip()
    import importlib.util
    if importlib.util.find_spec("pip") is None and shutil.which("uv"):
        return f"uv pip install --python {python} {packages}"      # a venv made by uv has no pip
    return f"{python} -m pip install {packages}"


class MissingExtra(TracesError):
    """This Python cannot import a package of an extra (mlflow, databricks-sdk)."""

    def __init__(self, package, extra):
        self.package, self.extra = package, extra
        super().__init__(f"this needs {package} — {install_hint(extra)}")


###############################################################################
# Claude Code settings files
###############################################################################

def settings_problem(data):
    if not isinstance(data, dict):
        return "the top level is not a JSON object"
    for key in ("env", "hooks"):
        if key in data and not isinstance(data[key], dict):
            return f'"{key}" is not an object'
    for event, groups in data.get("hooks", {}).items():
        if not isinstance(groups, list):
            return f'"hooks.{event}" is not an array'
        for group in groups:
            if not isinstance(group, dict) or not isinstance(group.get("hooks", []), list):
                return f'"hooks.{event}" holds an entry that is not a hook group'
    return None



def load_settings(path):
    """Return (data, text) of a settings file, ({}, None) if it does not exist.

    Anything we could not rewrite without losing what is in it is refused before we touch it.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return {}, None
    except OSError as e:
        raise TracesError(f"cannot read {path}: {e.strerror}") from None
    unchanged = "fix it and run this again; the file was not changed"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TracesError(f"{path} is not UTF-8 text; {unchanged}") from None
    if not text.strip():
        return {}, text
    try:
        data = json.loads(text)
    except ValueError as e:
        where = f" at line {e.lineno} column {e.colno}" if hasattr(e, "lineno") else ""
        raise TracesError(f"{path} is not valid JSON ({getattr(e, 'msg', e)}{where}); {unchanged}") from None
    problem = settings_problem(data)
    if problem:
        raise TracesError(f"{path}: {problem}; {unchanged}")
    return data, text


def save_settings(path, data, old_data, old_text, mode=0o644):
    """Write data if it differs from what the file held; keep the file's indentation."""
    if old_text is not None and data == old_data:
        return False
    indent = 2
    for line in (old_text or "").splitlines()[1:]:
        stripped = line.lstrip(" ")
        if stripped and len(stripped) < len(line):
            indent = len(line) - len(stripped)
            break
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if old_text is not None:
        mode = os.stat(path).st_mode & 0o777
    write_atomic(path, (json.dumps(data, indent=indent, ensure_ascii=False) + "\n").encode(), mode)
    return True


def settings_env(data):
    return {k: v for k, v in (data.get("env") or {}).items() if isinstance(v, str)}


def is_our_hook(command):
    if not isinstance(command, str):
        return False
    return LOCAL_HOOK_FILE in command or ("claudetracing" in command and (PROBLEM_FILE in command or BUDGET_DIR in command)) or any(m in command for m in RETIRED_HOOK_MARKERS) or (
        ("traces" in command or "claudetracing" in command) and command.rstrip().endswith(("hook", "hook || true")))


def remove_our_hooks(data):
    """Drop our hook commands; a group or event emptied by that goes too."""
    hooks = data.get("hooks")
    if not isinstance(hooks, dict):
        return
    for event in list(hooks):
        kept_groups = []
        for group in hooks[event]:
            entries = group.get("hooks", [])
            kept = [h for h in entries if not (isinstance(h, dict) and is_our_hook(h.get("command")))]
            if len(kept) == len(entries):
                kept_groups.append(group)
            elif kept:
                kept_groups.append({**group, "hooks": kept})
        if kept_groups:
            hooks[event] = kept_groups
        elif hooks[event]:
            del hooks[event]
    if not hooks and "hooks" in data:
        del data["hooks"]


def our_hook_commands(data, event):
    hooks = data.get("hooks") or {}
    commands = [h.get("command") for g in hooks.get(event, []) for h in g.get("hooks", []) if isinstance(h, dict)]
    return [c for c in commands if is_our_hook(c)]


def our_hooks(command):
    """{event: the command of ours it runs}: the hook at the end of turns and sessions, and the
    notice of a problem at the start of a session."""
    return {**dict.fromkeys(HOOK_EVENTS, command), NOTICE_EVENT: NOTICE_COMMAND}


def has_current_hooks(data, command=HOOK_COMMAND):
    return all(our_hook_commands(data, event) == [ours] for event, ours in our_hooks(command).items())


def add_our_hooks(data, command=HOOK_COMMAND):
    """Make sure each event runs our command exactly once, keeping every other hook."""
    if has_current_hooks(data, command):
        return
    remove_our_hooks(data)
    hooks = data.setdefault("hooks", {})
    for event, ours in our_hooks(command).items():
        hooks.setdefault(event, []).append({"hooks": [{"type": "command", "command": ours}]})


def update_env(data, values):
    """Set (value) or remove (None) env keys, keeping the others in place and order."""
    env = data.get("env")
    if env is None:
        if not any(v is not None for v in values.values()):
            return
        env = data["env"] = {}
    for key, value in values.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    if not env:
        del data["env"]


###############################################################################
# Our configuration files, and the credentials kept apart from them
###############################################################################

def config_env(config):
    """A config file's settings under their program names, as strings."""
    env = {}
    for key, value in config.items():
        name = CONFIG_KEYS.get(key)
        if isinstance(value, bool):
            value = "on" if value else "off"
        elif isinstance(value, list):
            value = ",".join(map(str, value)) if name == ENV_ENRICHMENTS else json.dumps(value)
        elif isinstance(value, int):
            value = str(value)
        if name and isinstance(value, str):
            env[name] = value
    return env


def custom_patterns(env):
    """The repository's own redaction patterns (a JSON list of regexes); anything else is none."""
    try:
        patterns = json.loads(env.get(ENV_REDACT_PATTERNS) or "[]")
    except ValueError:
        return []
    return [p for p in patterns if isinstance(p, str)] if isinstance(patterns, list) else []


def config_problem(config):
    """What is wrong with one of our files' contents, or None (keys we do not know are kept)."""
    for key, value in config.items():
        name = CONFIG_KEYS.get(key)
        if name in (ENV_ENRICHMENTS, ENV_REDACT_PATTERNS):
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                return f'"{key}" must be a list of strings'
        elif name == ENV_REDACT:
            if not isinstance(value, bool):
                return f'"{key}" must be true or false'
        elif name == ENV_MAX_PAYLOAD:
            if not isinstance(value, int) or isinstance(value, bool):
                return f'"{key}" must be a number'
        elif name and not isinstance(value, str):
            return f'"{key}" must be a string'
    return None


def update_config(config, values):
    """Set (a string value) or remove (None) settings given under their program names."""
    keys = {name: key for key, name in CONFIG_KEYS.items()}
    for name, value in values.items():
        key = keys[name]
        if value is None:
            config.pop(key, None)
        elif name == ENV_ENRICHMENTS:
            config[key] = [n for n in value.split(",") if n]
        elif name == ENV_REDACT:
            config[key] = value != "off"
        elif name == ENV_REDACT_PATTERNS:
            config[key] = custom_patterns({name: value})        # what an old env block held, if usable
        elif name == ENV_MAX_PAYLOAD:
            if value.isdigit():
                config[key] = int(value)
            else:
                config.pop(key, None)       # a typo there never meant anything: the default applies
        else:
            config[key] = value


def layered_env(shared, local, config, local_config):
    """Our settings from a folder's four files: what a version before 0.9 left in the
    settings' env blocks, then our files, this machine's part last."""
    legacy = {**settings_env(shared), **settings_env(local)}
    return {**{k: v for k, v in legacy.items() if k in OUR_ENV_KEYS}, **config_env(config), **config_env(local_config)}


def hook_config(project_dir):
    """Our settings as a hook finds them: the user's own (~/.claude, where `init` outside any
    repository writes), then the project's. A file that is not a JSON object counts as empty
    here: the hook never fails; `traces status` names the file."""
    env = {}
    for base in dict.fromkeys((os.path.expanduser("~"), project_dir)):
        if base:
            files = [read_json_file(os.path.join(base, name)) for name in
                     (SETTINGS_FILE, LOCAL_SETTINGS_FILE, CONFIG_FILE, LOCAL_CONFIG_FILE)]
            env.update(layered_env(*(f if isinstance(f, dict) else {} for f in files)))
    return env


def credentials_path():
    return os.path.join(traces_home(), "credentials.json")


def stored_credentials(uri):
    """A server's token or user and password, as `traces init` stored them."""
    found = read_json_file(credentials_path(), {})
    entry = found.get(uri) if isinstance(found, dict) else None
    entry = entry if isinstance(entry, dict) else {}
    return {k: v for k, v in entry.items() if k in CREDENTIAL_KEYS and isinstance(v, str) and v}


def store_credentials(uri, values):
    """Remember a server's credentials (none: forget them); True when the file changed."""
    found = read_json_file(credentials_path(), {})
    found = found if isinstance(found, dict) else {}
    values = {k: v for k, v in values.items() if v}
    if found.get(uri, {}) == values:
        return False
    if values:
        found[uri] = values
    else:
        found.pop(uri, None)
    private_dir(traces_home())
    write_atomic(credentials_path(), json.dumps(found, indent=2).encode(), 0o600)
    return True


def job_credentials(project_dir, uri):
    """The secrets a backend needs, looked up when they are used: the server's stored
    credentials, what a version before 0.9 left in the repository's settings env, then the
    worker's own environment (a service principal's secret in CI, say)."""
    found = {}
    for name in (SETTINGS_FILE, LOCAL_SETTINGS_FILE):
        data = read_json_file(os.path.join(project_dir, name), {}) if project_dir else {}
        env = data.get("env") if isinstance(data, dict) and isinstance(data.get("env"), dict) else {}
        found.update({k: v for k, v in env.items() if k in CREDENTIAL_KEYS + SECRET_ENV_KEYS and isinstance(v, str) and v})
    found.update(stored_credentials(uri or ""))
    keys = dict.fromkeys(CREDENTIAL_KEYS + SECRET_ENV_KEYS)
    return {k: found.get(k) or os.environ[k] for k in keys if found.get(k) or os.environ.get(k)}


def created_files():
    """The real paths of the files init created (disable removes them once emptied)."""
    return read_json_file(os.path.join(traces_home(), "created-settings.json"), [])


def remember_created(created):
    if created != created_files():
        write_atomic(os.path.join(private_dir(traces_home()), "created-settings.json"), json.dumps(created).encode())


def default_experiment_name(root):
    """`org/repo` from origin, so every clone of a repository shares one experiment."""
    remote = run(["git", "remote", "get-url", "origin"], cwd=root)
    return (remote and repo_name_from_remote(remote)) or os.path.basename(root.rstrip(os.sep)) or "claude-code"



class RepoSettings:
    """A folder's Claude Code settings and our two config files, loaded (and validated)
    together before any change."""

    FILES = ((SETTINGS_FILE, 0o644), (LOCAL_SETTINGS_FILE, 0o600), (CONFIG_FILE, 0o644), (LOCAL_CONFIG_FILE, 0o600))

    def __init__(self, root):
        import copy
        self.root = root
        self.paths = [os.path.join(root, name) for name, _ in self.FILES]
        loaded = [load_settings(p) for p in self.paths]
        for path, (data, _) in zip(self.paths[2:], loaded[2:], strict=True):
            problem = config_problem(data)
            if problem:
                raise TracesError(f"{path}: {problem}; fix it and run this again; the file was not changed")
        self.shared, self.local, self.config, self.local_config = (copy.deepcopy(data) for data, _ in loaded)
        self._before = loaded

    @property
    def env(self):
        return layered_env(self.shared, self.local, self.config, self.local_config)

    def legacy_env(self):
        """{settings file: our variables in its env block}: Claude Code exports them to every
        command it runs for the user."""
        found = {}
        for name, data in ((SETTINGS_FILE, self.shared), (LOCAL_SETTINGS_FILE, self.local)):
            ours = [k for k in settings_env(data) if k in OUR_ENV_KEYS or k.startswith(("CLAUDETRACING_", "TRACES_"))]
            if ours:
                found[name] = ours
        return found

    def update(self, shared=(), local=()):
        """Set (value) or remove (None) settings in our team and machine files, and take each
        of them out of the settings' env blocks, where a version before 0.9 put it."""
        for config, values in ((self.config, dict(shared)), (self.local_config, dict(local))):
            update_config(config, values)
            for settings in (self.shared, self.local):
                update_env(settings, dict.fromkeys(k for k in values if k in settings_env(settings)))

    def drop_legacy_env(self):
        """Take every variable of ours out of the settings' env blocks."""
        for settings in (self.shared, self.local):
            update_env(settings, dict.fromkeys(OUR_ENV_KEYS))

    def save(self, delete_if_emptied=False):
        """Write what changed; report the files written or removed.

        A file that init created is remembered in TRACES_HOME, so that disable deletes it
        when our removal empties it, and leaves an empty file it did not create in place.
        """
        created = created_files()
        written = []
        datas = (self.shared, self.local, self.config, self.local_config)
        for path, data, (old, text), (_, mode) in zip(self.paths, datas, self._before, self.FILES, strict=True):
            real = os.path.realpath(path)
            ours = path.endswith((CONFIG_FILE, LOCAL_CONFIG_FILE))
            if delete_if_emptied and not data and text is not None and (real in created or ours):
                os.remove(path)
                if real in created:
                    created.remove(real)
                written.append(f"removed {os.path.relpath(path, self.root)}")
            elif (data or text is not None) and save_settings(path, data, old, text, mode):
                if text is None:
                    created.append(real)
                written.append(f"wrote {os.path.relpath(path, self.root)}")
        remember_created(created)
        return written


###############################################################################
# Databricks: CLI profiles and sign-in
###############################################################################

# Databricks is reached through its own clients, never by hand: databricks-sdk signs in (a CLI
# profile through `databricks auth token`, or a service principal through OAuth M2M) and MLflow's
# `databricks://<profile>` store talks to the workspace's MLflow. We write no token anywhere:
# the committed settings say `databricks` and the experiment, the local settings name the profile.

DATABRICKS_URI = "databricks"
CLI_INSTALL = ("install the Databricks CLI (https://docs.databricks.com/dev-tools/cli/install.html: "
               "`brew tap databricks/tap && brew install databricks`, or "
               "`curl -fsSL https://raw.githubusercontent.com/databricks/setup-cli/main/install.sh | sh`)")


def need_databricks():
    try:
        from databricks.sdk import WorkspaceClient
    except ImportError:
        raise MissingExtra("databricks-sdk", "databricks") from None
    import logging
    logging.getLogger("databricks.sdk").setLevel(logging.ERROR)    # its warnings are for developers
    return WorkspaceClient


def databricks_config_file():
    return os.path.expanduser(os.environ.get("DATABRICKS_CONFIG_FILE") or "~/.databrickscfg")


def databricks_config(path=None):
    """The CLI profiles as they are written: name -> {key: value}, in file order.

    DEFAULT is an ordinary profile there (configparser would copy its keys into every other one).
    """
    import configparser
    parser = configparser.ConfigParser(interpolation=None, default_section="\0")
    try:
        parser.read(path or databricks_config_file(), encoding="utf-8")
    except configparser.Error as e:
        raise TracesError(f"cannot read {path or databricks_config_file()}: {e}") from None
    # __settings__ holds the CLI's own settings, not a profile.
    return {name: dict(parser[name]) for name in parser.sections() if name != "__settings__"}


def databricks_profiles(path=None):
    """The CLI profiles: name -> {"host", "auth": "oauth" | "pat" | "m2m" | <auth_type>}, in file order."""
    profiles = {}
    for name, section in databricks_config(path).items():
        auth_type = section.get("auth_type", "")
        if auth_type in ("databricks-cli", "external-browser") or (not auth_type and not section.get("token")
                                                                  and not section.get("client_id")):
            auth = "oauth"
        elif auth_type in ("pat", "") and section.get("token"):
            auth = "pat"
        elif auth_type in ("oauth-m2m", "") and section.get("client_id"):
            auth = "m2m"
        else:
            auth = auth_type
        profiles[name] = {"host": section.get("host", "").rstrip("/"), "auth": auth}
    return profiles


def login_command(host, profile):
    return f"databricks auth login --host {host} --profile {profile}"


def databricks_failure(error, host, profile, doing):
    """A TracesError naming the cause of a failed Databricks call: login, permission or network."""
    text = f"{type(error).__name__}: {error}"
    low = text.lower()
    code = str(getattr(error, "error_code", "") or "")
    relogin = (f"run `{login_command(host, profile)}` and init again" if profile else
               "check DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET (an OAuth secret of the service principal)")
    import shutil
    if profile and "default credentials" in low and not shutil.which("databricks"):
        return TracesError(f"profile {profile!r} signs in through the Databricks CLI, which is not on PATH: "
                           f"{CLI_INSTALL}; then `{login_command(host, profile)}`")
    if any(s in low for s in ("connection refused", "max retries exceeded", "name or service not known",
                              "nodename nor servname", "failed to resolve", "timed out", "connecterror",
                              "connectionerror", "temporary failure in name resolution")):
        return TracesError(f"cannot reach the Databricks workspace at {host} while {doing}: check the host "
                           f"(in {databricks_config_file()} or DATABRICKS_HOST), your network and VPN")
    if code in ("UNAUTHENTICATED", "401") or type(error).__name__ == "Unauthenticated" or any(
            s in low for s in ("cannot get access token", "refresh token", "token is expired", "invalid access token",
                               "invalid_client", "reauthenticate")):
        who = f"your Databricks login (profile {profile!r})" if profile else "the service principal's sign-in"
        return TracesError(f"{who} was refused or has expired while {doing}: {relogin}")
    if code == "PERMISSION_DENIED" or type(error).__name__ == "PermissionDenied" or "permission" in low:
        return TracesError(f"no permission while {doing} on {host} ({str(error).splitlines()[0][:200]}); ask a "
                           f"workspace admin for Can Manage on that folder, or choose another with --personal or -e")
    return TracesError(f"Databricks at {host} failed while {doing}: {short_error(error)}")


def databricks_client(timeout=20, **config):
    """A WorkspaceClient whose requests give up after `timeout` seconds, retries included."""
    WorkspaceClient = need_databricks()
    from databricks.sdk.config import Config
    return WorkspaceClient(config=Config(http_timeout_seconds=timeout, retry_timeout_seconds=timeout, **config))


def databricks_profile(env):
    """The Databricks CLI profile the settings name: our local settings, else `databricks://PROFILE`."""
    return env.get(ENV_PROFILE) or env.get(ENV_URI, "").partition("://")[2] or "DEFAULT"


def databricks_host(env):
    """The workspace URL: DATABRICKS_HOST, else the profile's host in ~/.databrickscfg."""
    if env.get("DATABRICKS_HOST"):
        return env["DATABRICKS_HOST"].rstrip("/")
    return databricks_profiles().get(databricks_profile(env), {}).get("host") or None


def sign_in_error(host, profile, env):
    """The error for a sign-in the workspace refused: what to run or check."""
    if profile:
        return TracesError(f"your Databricks login (profile {profile!r}) has expired or was refused at {host}: "
                           f"run `{login_command(host, profile)}`, then try again")
    if env.get("DATABRICKS_CLIENT_ID"):
        return TracesError(f"Databricks at {host} refused the service principal's sign-in: check DATABRICKS_CLIENT_ID "
                           f"and DATABRICKS_CLIENT_SECRET (an OAuth secret of the service principal)")
    return TracesError(f"Databricks at {host} refused DATABRICKS_TOKEN: it has expired or is not valid there")


def cli_token(host, profile):
    """OAuth for a user (U2M): the CLI keeps the login and refreshes it; `databricks auth token`
    prints the current access token as JSON (databricks-sdk asks it the same way)."""
    import shutil
    cli = shutil.which("databricks")
    if not cli:
        raise TracesError(f"profile {profile!r} signs in through the Databricks CLI, which is not on PATH: "
                          f"{CLI_INSTALL}; then `{login_command(host, profile)}`")
    out = run([cli, "auth", "token", *(["--profile", profile] if profile else ["--host", host])], timeout=60)
    try:
        return json.loads(out)["access_token"]
    except (TypeError, ValueError, KeyError):
        raise sign_in_error(host, profile, {}) from None


def client_credentials_token(host, client_id, secret):
    """OAuth for a service principal (M2M): the client-credentials grant at the workspace's OIDC endpoint."""
    import base64
    import urllib.error
    import urllib.parse
    import urllib.request
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "all-apis"}).encode()
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    request = urllib.request.Request(host + "/oidc/v1/token", data=form, method="POST", headers={
        "Authorization": "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["access_token"]
    except urllib.error.HTTPError as e:
        if e.code in (400, 401, 403):
            raise sign_in_error(host, None, {"DATABRICKS_CLIENT_ID": client_id}) from None
        raise TracesError(f"Databricks at {host} failed to sign the service principal in (HTTP {e.code})") from None
    except (urllib.error.URLError, OSError, ValueError, KeyError) as e:
        raise TracesError(f"cannot reach the Databricks workspace at {host} ({getattr(e, 'reason', e)}): check "
                          f"the host (in {databricks_config_file()} or DATABRICKS_HOST), your network and VPN") from None


def sdk_token(host, profile):
    """Any other sign-in: databricks-sdk's, for the bearer token it puts in its headers."""
    need_databricks()
    from databricks.sdk.config import Config
    try:
        headers = Config(profile=profile, host=host).authenticate()
    except Exception as e:  # noqa: BLE001 - the SDK raises ValueError/IOError for every sign-in failure
        raise databricks_failure(e, host, profile, "signing in") from None
    auth = headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        raise TracesError(f"profile {profile!r} does not sign in with a bearer token; set "
                          f"{ENV_READER}=mlflow to read through the mlflow client")
    return auth[len("Bearer "):]


# Databricks: the same REST API behind a bearer token. databricks-sdk would mint it, but
# importing it costs a second, as much as mlflow: the usual sign-ins are done here the way the
# SDK does them, and only the rarer ones (Azure CLI, metadata service...) go through it.

def databricks_token(env, host, profile):
    """A bearer token for the workspace (never logged or kept): the environment's credentials
    first, then those of the profile (None: none), as databricks-sdk chooses them."""
    section = databricks_config().get(profile) or {}

    def setting(key):
        return env.get("DATABRICKS_" + key.upper()) or section.get(key)
    auth_type = setting("auth_type") or ""
    if auth_type in ("", "pat") and setting("token"):
        return setting("token")
    if auth_type in ("", "oauth-m2m") and setting("client_id") and setting("client_secret"):
        return client_credentials_token(host, setting("client_id"), setting("client_secret"))
    if auth_type == "databricks-cli":
        return cli_token(host, profile)
    return sdk_token(host, profile)


def use_trace_location(experiment_id, location):
    """Send this process's traces of the experiment to Unity Catalog tables (MLflow >= 3.11).

    mlflow.set_experiment links the experiment to the location the first time (init does it,
    so failures surface there) and afterwards only reads the link back from the experiment.
    """
    import mlflow
    from mlflow.entities.trace_location import UnityCatalog
    catalog, schema, prefix = location.split(".")
    mlflow.set_experiment(experiment_id=experiment_id, trace_location=UnityCatalog(catalog, schema, prefix))


###############################################################################
# Backends: the local store, an MLflow server, a Databricks workspace
###############################################################################

# Where traces go is told by the tracking URI alone (backend_kind), and what differs between
# the three kinds of backend is in BACKENDS. A URI of another scheme MLflow takes is a server
# to these, and is read and written through mlflow.
#   extra                   the pip extra the worker needs for it
#   refused(uri, env)       the command that fixes credentials it refused (the worker's notice)
#   unreachable(uri, env)   what doctor says to do when it does not answer

def backend_kind(uri):
    if uri.startswith("sqlite:"):
        return "local"
    if uri.startswith("databricks"):
        return "databricks"
    return "server"


def is_http(uri):
    """An MLflow server we can talk to over its REST API (not another scheme MLflow takes)."""
    return uri.startswith(("http://", "https://"))


def databricks_unreachable(uri, env):
    profile = databricks_profile(env)
    host = databricks_host(env) or "https://<workspace>"
    return login_command(host, profile) if profile in databricks_profiles() else "traces init --spn"


BACKENDS = {
    "local": {"extra": "mlflow", "refused": lambda uri, env: f"traces init --tracking-uri {uri}",
              "unreachable": lambda uri, env: f"mv {uri.split(':///', 1)[-1]} {uri.split(':///', 1)[-1]}.broken "
                                              "(the next turn starts a new store)"},
    "server": {"extra": "mlflow", "refused": lambda uri, env: f"traces init --tracking-uri {uri}",
               "unreachable": lambda uri, env: f"start the MLflow server at {uri}, or `traces init --tracking-uri URI`"},
    "databricks": {"extra": "databricks",
                   "refused": lambda uri, env: f"databricks auth login --profile {env[ENV_PROFILE]}"
                   if env.get(ENV_PROFILE) else "traces init --spn",
                   "unreachable": databricks_unreachable},
}


###############################################################################
# Transcript reading: JSONL lines with their byte offsets
###############################################################################

# Big lines that carry nothing a trace shows (request copies, prompt snapshots, skill
# listings: most of a transcript's bytes) are recognised by their opening bytes and skipped
# without parsing. Claude Code writes `type` first for the former and `attachment` as the
# third key for the latter; a line that only mentions these names further in is parsed.
SKIPPED_OPENINGS = tuple(b'{"type":"%s"' % t for t in (
    b"api-request-blob", b"api-request-shape", b"api-request", b"atis-latch", b"file-history-snapshot",
))
ATTACHMENT_MARK = b',"attachment":{"type":'


def read_lines(path, offset=0, final=False):
    """Parse a transcript from a byte offset.

    Returns (records, end, bad): records are (offset, dict) for JSON-object lines; end is the
    offset just past the last line consumed; bad counts lines that are not JSON objects. A
    last line without its newline is still being written: it is left for the next read,
    unless the session is over (final), when it is read if it parses.
    """
    records, bad = [], 0
    with open(path, "rb") as f:
        f.seek(offset)
        pos = offset
        for line in f:
            start, pos = pos, pos + len(line)
            if not line.endswith(b"\n"):
                if not final:
                    return records, start, bad
            if line.startswith(SKIPPED_OPENINGS) or ATTACHMENT_MARK in line[:120] or not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):      # RecursionError: absurdly deep nesting
                bad += 1
                continue
            if isinstance(record, dict):
                records.append((start, record))
            else:
                bad += 1
    return records, pos, bad


def parse_time(value, default=0.0):
    """Seconds since the epoch from Claude Code's ISO timestamps (`...Z`)."""
    if not isinstance(value, str):
        return default
    from datetime import datetime
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return default


###############################################################################
# Turns and usage: one real prompt and everything until Claude stopped
###############################################################################

AGENT_TOOLS = ("Agent", "Task")
FILE_TOOLS = ("Write", "Edit", "MultiEdit", "NotebookEdit")
# User lines that Claude Code writes itself: command plumbing and notifications, not prompts.
NOT_PROMPT_OPENINGS = ("<local-command-", "<command-name>", "<command-message>", "<task-notification>",
                       "<bash-stdout>", "<bash-input>", "Caveat: The messages below")
# What Claude Code writes when the user presses Escape: it ends the turn, it is no prompt.
INTERRUPT_MARK = "[Request interrupted by user"
NOT_PROMPTS = NOT_PROMPT_OPENINGS + (INTERRUPT_MARK,)
TOKEN_KINDS = ("input", "output", "cache_read", "cache_creation")
END_REASONS = ("end_turn", "stop_sequence", "max_tokens", "refusal")


def message_content(record):
    message = record.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def text_of(blocks):
    return "\n".join(b["text"] for b in blocks if b.get("type") == "text" and isinstance(b.get("text"), str))


def is_prompt(record):
    """A turn starts at a user line a person wrote: not a tool result, summary or notification."""
    if record.get("type") != "user" or record.get("isMeta") or record.get("isCompactSummary") \
            or record.get("isSidechain") or record.get("toolUseResult") is not None:
        return False
    origin = record.get("origin")
    if isinstance(origin, dict) and origin.get("kind") not in (None, "user", "human"):
        return False
    blocks = message_content(record)
    if not blocks or any(b.get("type") == "tool_result" for b in blocks):
        return False
    text = text_of(blocks).lstrip()
    return not text.startswith(NOT_PROMPTS)


def command_wrapper(record):
    """A custom slash command's wrapper line: `/name args` (its expanded prompt follows as a
    line with isMeta), or None. Built-in commands (/clear, /compact) are followed by their
    output instead, and are no turns."""
    if record.get("type") != "user" or record.get("isMeta") or record.get("isSidechain"):
        return None
    text = text_of(message_content(record)).lstrip()
    name = re.search(r"<command-name>\s*(/?[^<\s]+)\s*</command-name>", text) if text.startswith(
        ("<command-message>", "<command-name>")) else None
    if name is None:
        return None
    args = re.search(r"<command-args>(.*?)</command-args>", text, re.S)
    command = "/" + name.group(1).lstrip("/")
    return f"{command} {args.group(1).strip()}".strip() if args else command


def expands(record, wrapper):
    """Is this the expanded prompt of that command wrapper line?"""
    return record.get("type") == "user" and record.get("isMeta") is True and \
        record.get("parentUuid") == wrapper.get("uuid") and \
        not text_of(message_content(record)).lstrip().startswith(("<local-command", "Caveat:"))


def split_turns(records):
    """Group (offset, record) pairs into turns; lines before the first prompt are dropped.
    A custom slash command starts a turn at its wrapper line (see command_wrapper)."""
    turns = []
    for i, (offset, record) in enumerate(records):
        message = record.get("message")
        # Wrappers are plain strings: most lines are ruled out without building their text.
        maybe_command = isinstance(message, dict) and isinstance(message.get("content"), str) \
            and "<command-name>" in message["content"]
        if is_prompt(record) or (maybe_command and command_wrapper(record) and any(
                expands(later, record) for _, later in records[i + 1:i + 4])):
            turns.append({"offset": offset, "records": [record]})
        elif turns:
            turns[-1]["records"].append(record)
    return turns


def usage_of(raw):
    """Anthropic usage → our token counts; cache writes split by TTL when Claude Code says."""
    raw = raw if isinstance(raw, dict) else {}

    def count(value):
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
    usage = {"input": count(raw.get("input_tokens")), "output": count(raw.get("output_tokens")),
             "cache_read": count(raw.get("cache_read_input_tokens")),
             "cache_creation": count(raw.get("cache_creation_input_tokens"))}
    split = raw.get("cache_creation") if isinstance(raw.get("cache_creation"), dict) else {}
    usage["cache_creation_1h"] = min(count(split.get("ephemeral_1h_input_tokens")), usage["cache_creation"])
    usage["total"] = sum(usage[k] for k in TOKEN_KINDS)
    server_tools = raw.get("server_tool_use") if isinstance(raw.get("server_tool_use"), dict) else {}
    usage["web_search"] = count(server_tools.get("web_search_requests"))
    return usage


def add_usage(total, usage):
    for key, value in usage.items():
        total[key] = total.get(key, 0) + value
    return total


def empty_usage():
    return dict.fromkeys(TOKEN_KINDS + ("cache_creation_1h", "total", "web_search"), 0)


# USD per million tokens: input, output, cache read, cache write (5 min), cache write (1 h),
# read off Claude Code 2.1.330's own catalog and checked model by model against the dollars
# it writes in `cost-state`. A model not listed gets no cost at all, never a guess.
PRICES = {
    "claude-3-5-haiku": (0.8, 4, 0.08, 1, 1.6),
    "claude-haiku-4-5": (1, 5, 0.1, 1.25, 2),
    "claude-haiku-5-5": (0.1, 0.5, 0.01, 0.125, 0.2),
    "claude-3-5-sonnet": (3, 15, 0.3, 3.75, 6),
    "claude-3-7-sonnet": (3, 15, 0.3, 3.75, 6),
    "claude-sonnet-4": (3, 15, 0.3, 3.75, 6),
    "claude-sonnet-5": (2, 10, 0.2, 2.5, 4),
    "claude-sonnet-5-5": (2, 10, 0.1, 2.5, 4),
    "claude-opus-4-0": (15, 75, 1.5, 18.75, 30),
    "claude-opus-4-1": (15, 75, 1.5, 18.75, 30),
    "claude-opus-4": (5, 25, 0.5, 6.25, 10),
    "claude-opus-5": (5, 25, 0.5, 6.25, 10),
    "claude-opus-5-5": (4, 20, 0.2, 5, 8),
    "claude-fable-5": (10, 50, 1, 12.5, 20),
    "claude-mythos-5": (10, 50, 1, 12.5, 20),
    "claude-fable-5-1": (10, 50, 0.25, 12.5, 20),
    "claude-mythos-5-1": (10, 50, 0.25, 12.5, 20),
    "claude-fable-5-2": (8, 40, 0.2, 10, 16),
    "claude-mythos-5-2": (8, 40, 0.2, 10, 16),
}
# Fast mode (`usage.speed == "fast"`) has its own prices for a few models.
FAST_PRICES = {
    "claude-opus-4-6": (30, 150, 3, 37.5, 60),
    "claude-opus-4-7": (30, 150, 3, 37.5, 60),
    "claude-opus-4-8": (10, 50, 1, 12.5, 20),
    "claude-opus-5": (10, 50, 1, 12.5, 20),
    "claude-opus-5-5": (8, 40, 0.4, 10, 16),
    "claude-fable-5-2": (16, 80, 0.4, 20, 32),
    "claude-mythos-5-2": (16, 80, 0.4, 20, 32),
}
# Prices per token rise once a request's whole input (fresh, cache read, cache written) passes
# a threshold: Haiku 5.5 above 100k tokens, Sonnet 4 and 4.5 above 200k (the 1M context).
LONG_CONTEXT = {"claude-haiku-5-5": (100_000, (0.5, 2.5, 0.05, 0.625, 1)),
                "claude-sonnet-4": (200_000, (6, 22.5, 0.6, 7.5, 12))}
WEB_SEARCH_USD = 0.01
US_INFERENCE_FACTOR = 1.1


def canonical_model(model):
    """A model id as the price table spells it. Cloud ids lose their provider's wrapping
    (`us.anthropic.claude-sonnet-4-5-20250929-v1:0`, `claude-opus-4@20250514`), and a date right
    after a major version means its first release: `claude-opus-4-20250514` is Opus 4.0."""
    model = re.sub(r"^(?:[a-z]{2,4}\.)?anthropic\.", "", model)
    model = re.sub(r"-v\d+(?::\d+)?$", "", model).replace("@", "-")
    return re.sub(r"^(claude-[a-z]+-\d+)-(\d{8})\b", r"\1-0-\2", model)


PRICE_KEYS = {}     # (model id, table) → entry: a session asks the same few, thousands of times


def price_key(model, table):
    """The table entry for a model id: the longest listed name it is, or starts with
    followed by a date or suffix (claude-opus-4-5-20251101, claude-sonnet-4-5[1m])."""
    if not isinstance(model, str):
        return None
    if (model, id(table)) not in PRICE_KEYS:
        name = canonical_model(model)
        matches = [key for key in table if name == key or name.startswith((key + "-", key + "["))]
        PRICE_KEYS[model, id(table)] = max(matches, key=len, default=None)
    return PRICE_KEYS[model, id(table)]


# Every other model is priced by genai-prices (pydantic's maintained catalog, part of the mlflow
# extra): OpenAI, Google and more, with their tiers, cached-input prices and price changes by
# date. Its bundled snapshot is read offline; it fetches prices only when asked (UpdatePrices),
# which we never do. Where it is not installed (traces.py vendored and run by a bare Python),
# this small table of OpenAI models (Codex CLI) stands in, USD per million tokens: input,
# cached input, output, from OpenAI's pricing page (standard tier) as copies of it were found in
# Dec 2026. Ids match exactly or with a date (gpt-5-2025-08-07): gpt-5-pro is not gpt-5.
OPENAI_PRICES = {
    "gpt-5": (1.25, 0.125, 10),
    "gpt-5-codex": (1.25, 0.125, 10),
    "gpt-5-mini": (0.25, 0.025, 2),
    "gpt-4.1": (2, 0.5, 8),
    "o3": (2, 0.5, 8),
    "o4-mini": (1.1, 0.275, 4.4),
}


def openai_cost(model, usage):
    """USD for one OpenAI response from the table above (usage in our keys, see codex_usage);
    None if unpriced. OpenAI bills reasoning as output (it is inside output_tokens) and writing
    the cache as input."""
    price = OPENAI_PRICES.get(re.sub(r"-\d{4}-\d{2}-\d{2}$", "", model)) if isinstance(model, str) else None
    if price is None:
        return None
    return ((usage["input"] + usage["cache_creation"]) * price[0] + usage["cache_read"] * price[1]
            + usage["output"] * price[2]) / 1_000_000


GENAI_PRICES = {}   # "module": genai_prices, or None where it is not installed; "unknown": (model, provider) misses


def genai_prices():
    """The genai_prices module, None where it is not installed; imported once, when a model
    outside Claude Code's catalog is first priced (0.4 s: a Claude Code session never pays it)."""
    if "module" not in GENAI_PRICES:
        try:
            import genai_prices as module
        except ImportError:
            module = None
        GENAI_PRICES.update(module=module, unknown=set())
    return GENAI_PRICES["module"]


def library_cost(library, model, usage, when=None, provider=None):
    """USD for one response as genai-prices computes it, None for a model it does not know.
    provider: who served it, where the agent says (Codex's model_provider); a provider the
    catalog does not list (a local or custom one) leaves the model id alone to decide.
    Its input_tokens are the whole input, cache reads and writes included (OpenAI's and
    Anthropic's own totals); ours exclude them (usage_of, codex_usage), so they are added back
    once and each kind is charged once."""
    if provider is not None and (model, provider) in GENAI_PRICES["unknown"]:
        provider = None
    if not isinstance(model, str) or (model, provider) in GENAI_PRICES["unknown"]:
        return None
    from datetime import datetime, timezone
    tokens = library.Usage(
        input_tokens=usage["input"] + usage["cache_read"] + usage["cache_creation"],
        cache_read_tokens=usage["cache_read"], cache_write_tokens=usage["cache_creation"],
        cache_write_1h_tokens=usage["cache_creation_1h"], output_tokens=usage["output"])
    try:
        # A price in force on the day of the request: catalogs record price changes by date.
        price = library.calc_price(tokens, model, provider_id=provider, genai_request_timestamp=None if
                                   when is None else datetime.fromtimestamp(when, tz=timezone.utc))
    except LookupError:
        GENAI_PRICES["unknown"].add((model, provider))  # a miss is slow to find, and asked again and again
        return None if provider is None else library_cost(library, model, usage, when)
    return float(price.total_price)


def cost_of(model, usage, speed=None, geo=None, when=None, provider=None):
    """USD for one API response, None if unpriced. Claude models the way Claude Code's ledger
    computes them (PRICES); any other through genai-prices, else OPENAI_PRICES. when: the
    request's time (seconds since the epoch), for prices that changed; provider: see library_cost."""
    key = price_key(model, PRICES)
    if key is None:
        library = genai_prices()
        return openai_cost(model, usage) if library is None else library_cost(library, model, usage, when, provider)
    price = PRICES[key]
    if speed == "fast" and price_key(model, FAST_PRICES):
        price = FAST_PRICES[price_key(model, FAST_PRICES)]
    threshold, long_price = LONG_CONTEXT.get(key, (None, None))
    if threshold is not None and usage["input"] + usage["cache_read"] + usage["cache_creation"] > threshold:
        price = long_price
    write_5m = usage["cache_creation"] - usage["cache_creation_1h"]
    dollars = (usage["input"] * price[0] + usage["output"] * price[1] + usage["cache_read"] * price[2]
               + write_5m * price[3] + usage["cache_creation_1h"] * price[4]) / 1_000_000
    dollars += usage.get("web_search", 0) * WEB_SEARCH_USD
    return dollars * (US_INFERENCE_FACTOR if geo == "us" else 1)


def agent_files(folder, flat_session=None):
    """A session's subagent files: `<session>/subagents/agent-*.jsonl`, and with flat_session
    the 2.0 layout, `agent-*.jsonl` beside the session file, naming the session inside."""
    found = []
    project = os.path.dirname(os.path.dirname(folder)) if folder and flat_session else None
    for where, check in ((folder, False), (project, True)):
        try:
            names = sorted(n for n in os.listdir(where) if n.startswith("agent-") and n.endswith(".jsonl"))
        except (OSError, TypeError):
            continue
        for name in names:
            path = os.path.join(where, name)
            if check:
                with open(path, "rb") as f:
                    if f'"sessionId":"{flat_session}"'.encode() not in f.readline():
                        continue
            found.append(path)
    return found


def take_response(record, since, when, calls, steps, tools, inputs):
    """Add one assistant line to the turn's steps: a new llm step per API response (Claude
    Code writes a line per content block, each repeating the usage: counted once), a tool
    step per tool_use. since: the time of the line before (when the request went out).
    Returns (whether it started a new response, which took `inputs`; the line's text)."""
    message = record.get("message") if isinstance(record.get("message"), dict) else {}
    blocks = message_content(record)
    model = message.get("model")
    key = next((k for k in (message.get("id"), record.get("uuid")) if isinstance(k, str) and k), id(record))
    call, new = calls.get(key), False
    if call is None and model != "<synthetic>":
        call = calls[key] = {"kind": "llm", "id": key, "model": model, "start": since, "end": when,
                             "inputs": inputs, "content": [], "usage": usage_of(message.get("usage")),
                             # Claude Code prices the model it asked for, not the one that answered.
                             "price_model": record.get("requestedModel") or model}
        steps.append(call)
        new = True
    if call is not None:
        call["end"] = max(call["end"], when)
        call["content"].extend(blocks)
        if isinstance(message.get("usage"), dict):
            call["usage"] = usage_of(message["usage"])
            call["speed"], call["geo"] = message["usage"].get("speed"), message["usage"].get("inference_geo")
        call["stop_reason"] = message.get("stop_reason")
    for block in blocks:
        if block.get("type") == "tool_use" and isinstance(block.get("id"), str):
            tool = {"kind": "tool", "id": block["id"], "name": str(block.get("name") or "?"),
                    "input": block.get("input"), "start": when, "end": None, "result": None, "error": False}
            tools[block["id"]] = tool
            steps.append(tool)
    return new, text_of(blocks)


def link_subagents(turn, agents, finished_agents, side_runs, orphans, depth):
    """Find the run each Agent/Task call launched; give runs no call claims a place of their own."""
    steps = turn["steps"]
    for step in [s for s in steps if s["kind"] == "tool" and s["name"] in AGENT_TOOLS]:
        step["run"] = agents.find(step, finished_agents) if agents is not None and depth < 3 else None
    for run in side_runs:
        if not run["used"]:     # no call found for it: still its tokens count, under a call of its own
            when = parse_time(run["records"][0].get("timestamp"), turn["end"])
            steps.append({"kind": "tool", "id": run["agent_id"], "name": "Task", "input": {"prompt": run["prompt"]},
                          "start": when, "end": None, "result": None, "error": False, "run": {**run, "finished": True}})
    for run in orphans:
        run["used"] = True
        for step in analyse(run["records"], turn["start"], None, depth + 1)["steps"]:
            if step["kind"] == "llm":
                steps.append({**step, "name": run["orphan"]})


def is_background(tool_step):
    tool_input = tool_step["input"] if isinstance(tool_step["input"], dict) else {}
    return tool_input.get("run_in_background") is True or "Async agent launched" in json.dumps(tool_step["result"] or "")


def add_totals(turn, agents, depth):
    """Usage, cost, models, files and tool counts of a turn, its subagents' included."""
    usage, cost, models, by_model = empty_usage(), 0.0, [], {}
    files, tool_counts, tool_errors = [], {}, 0
    for step in turn["steps"]:
        if step["kind"] == "llm":
            add_usage(usage, step["usage"])
            add_usage(by_model.setdefault(step["model"] or "?", empty_usage()), step["usage"])
            step["cost"] = cost_of(step["price_model"], step["usage"], step.get("speed"), step.get("geo"), step["start"],
                                   step.get("provider"))
            cost = None if cost is None or step["cost"] is None else cost + step["cost"]
            if step["model"] and step["model"] not in models:
                models.append(step["model"])
            continue
        step["end"] = step["end"] or turn["end"]
        tool_counts[step["name"]] = tool_counts.get(step["name"], 0) + 1
        tool_errors += step["error"]
        tool_input = step["input"] if isinstance(step["input"], dict) else {}
        if step["name"] in FILE_TOOLS:
            path = tool_input.get("file_path") or tool_input.get("notebook_path")
            if isinstance(path, str) and path not in files:
                files.append(path)
        run = step.pop("run", None)
        if run is not None:
            sub = analyse(run["records"], step["start"], agents, depth + 1)
            sub["type"] = str(tool_input.get("subagent_type") or "general-purpose")
            sub["agent_id"] = run["agent_id"]
            step["subagent"] = sub
            add_usage(usage, sub["usage"])
            for name, used in sub["by_model"].items():
                add_usage(by_model.setdefault(name, empty_usage()), used)
            cost = None if cost is None or sub["cost"] is None else cost + sub["cost"]
            models += [m for m in sub["models"] if m not in models]
            files += [f for f in sub["files"] if f not in files]
            for name, n in sub["tool_counts"].items():
                tool_counts[name] = tool_counts.get(name, 0) + n
            tool_errors += sub["tool_errors"]
            turn["waiting"] += sub["waiting"] + ([] if run["finished"] else [run["agent_id"]])
            step["end"] = max(step["end"], sub["end"])
            turn["end"] = max(turn["end"], sub["end"])
        elif step["name"] in AGENT_TOOLS and is_background(step):
            turn["waiting"].append(step["id"])
    turn.update(usage=usage, cost=cost, models=models, files=files, tool_counts=tool_counts,
                tool_errors=tool_errors, by_model=by_model)


def fold_subagent(turn, step, sub):
    """Add a subagent's totals (its turn record, nested under the tool step that started it) to
    the turn's, for the agents whose subagents are read apart from the turn (Codex, Copilot)."""
    add_usage(turn["usage"], sub["usage"])
    for name, used in sub["by_model"].items():
        add_usage(turn["by_model"].setdefault(name, empty_usage()), used)
    turn["cost"] = None if turn["cost"] is None or sub["cost"] is None else turn["cost"] + sub["cost"]
    turn["models"] += [m for m in sub["models"] if m not in turn["models"]]
    turn["files"] += [f for f in sub["files"] if f not in turn["files"]]
    for name, n in sub["tool_counts"].items():
        turn["tool_counts"][name] = turn["tool_counts"].get(name, 0) + n
    turn["tool_errors"] += sub["tool_errors"]
    step["end"] = max(step["end"] or sub["end"], sub["end"])
    turn["end"] = max(turn["end"], sub["end"])


def is_interruption(block):
    """Escape pressed: Claude Code says so in a text block, or as a tool call's result."""
    content = block.get("text") if block.get("type") == "text" else \
        block.get("content") if block.get("type") == "tool_result" else None
    if isinstance(content, list) and content and isinstance(content[0], dict):
        content = content[0].get("text")
    return isinstance(content, str) and content.startswith(INTERRUPT_MARK)


def notification_ids(content):
    return set(re.findall(r"<(?:task-id|tool-use-id|agent-id)>([^<]+)</", content))


class Subagents:
    """The subagent runs of one session, read from `<session>/subagents/agent-*.jsonl` (and,
    for transcripts of Claude Code 1.x, from `isSidechain` lines in the main file: add()).

    One file can hold several runs (a resumed session appends to it), so runs are split at
    each prompt line and matched to the launching tool call by agent id and prompt text.
    """

    def __init__(self, folder=None, flat_session=None):
        self.runs = []
        for path in agent_files(folder, flat_session):
            records, _, _ = read_lines(path, final=True)
            name = os.path.basename(path)[len("agent-"):-len(".jsonl")]
            for run in self.add([r for _, r in records], name):
                # Runs no tool call launches: 2.1.39 compactions, 2.0's warm-up agents.
                run["orphan"] = "compaction" if name.startswith("acompact") else \
                    "warmup" if run["prompt"] == "Warmup" else None

    def orphans(self, lo, hi):
        """The runs no call launched that started between two times (seconds)."""
        return [r for r in self.runs if r.get("orphan") and not r["used"]
                and lo <= parse_time(r["records"][0].get("timestamp")) < hi]

    def add(self, records, default_id):
        """Split one agent's lines into runs; returns the new runs."""
        runs = []
        for record in records:
            if record.get("type") == "user" and record.get("toolUseResult") is None and not any(
                    b.get("type") == "tool_result" for b in message_content(record)):
                agent_id = record.get("agentId")
                runs.append({"agent_id": agent_id if isinstance(agent_id, str) and agent_id else default_id,
                             "records": [], "used": False, "prompt": text_of(message_content(record)).strip()})
            if runs:
                runs[-1]["records"].append(record)
        self.runs += runs
        return runs

    def find(self, tool_step, finished_ids):
        """The run a tool call launched: by the agent id it reported, else by its prompt."""
        tool_input = tool_step["input"] if isinstance(tool_step["input"], dict) else {}
        meta = tool_step.get("meta") or {}
        agent_id = meta.get("agentId") if isinstance(meta, dict) else None
        prompt = str(tool_input.get("prompt") or "").strip()
        candidates = [r for r in self.runs if not r["used"] and (
            (agent_id and r["agent_id"] == agent_id and (not prompt or r["prompt"] == prompt))
            or (prompt and r["prompt"] == prompt))]
        if not candidates:
            return None
        run = candidates[0]
        run["used"] = True
        # A background run is part of the turn until Claude has been told it finished.
        notified = tool_step["id"] in finished_ids or run["agent_id"] in finished_ids
        run["finished"] = notified or not is_background(tool_step)
        return run


def split_sidechain(records, agents, depth):
    """Take Claude Code 1.x's subagent lines out of a main file as runs: (records, agents, runs)."""
    sidechain = [r for r in records if r.get("isSidechain") is True]
    if not sidechain or depth != 0:
        return records, agents, []
    # Claude Code 1.x wrote subagents' lines into the main file: nest them like agent files.
    agents = agents or Subagents()
    return [r for r in records if r.get("isSidechain") is not True], agents, agents.add(sidechain, "sidechain")


def take_tool_results(record, blocks, when, tools):
    """Close the tool calls whose results a user line brings."""
    for block in blocks:
        tool_use_id = block.get("tool_use_id")
        tool = tools.get(tool_use_id) if block.get("type") == "tool_result" and isinstance(tool_use_id, str) \
            else None
        if tool is not None:
            tool["end"] = when
            tool["result"] = block.get("content")
            tool["error"] = block.get("is_error") is True
            if isinstance(record.get("toolUseResult"), dict):
                tool["meta"] = record["toolUseResult"]


def read_turn(records, start, notified):
    """Walk a turn's lines in order into steps, the answer and what the lines say about the turn.

    Returns a dict: steps, tools (by call id), inputs (what reached Claude after its last
    response), answer, end, meta, ledger, compactions, copied_from, finished (the ids of
    background agents reported done) and interrupted.
    """
    calls, tools, steps = {}, {}, []
    inputs, answer, last_time = [], "", start
    finished_agents, interrupted = set(notified), False
    meta, ledger, compactions, forked_from = {}, None, [], set()
    for record in records:
        kind = record.get("type")
        if kind == "cost-state" and isinstance(record.get("modelUsage"), dict):
            ledger = record["modelUsage"]
        elif kind == "system" and record.get("subtype") == "compact_boundary":
            found = record.get("compactMetadata")
            compactions.append({**(found if isinstance(found, dict) else {}), "time": record.get("timestamp")})
        when = parse_time(record.get("timestamp"), last_time)
        for key, field in (("git_branch", "gitBranch"), ("cwd", "cwd"), ("version", "version")):
            if isinstance(record.get(field), str) and record[field]:
                meta[key] = record[field]
        if kind == "assistant":
            new, text = take_response(record, last_time, when, calls, steps, tools, inputs)
            inputs, answer = [] if new else inputs, text or answer
            if isinstance(record.get("requestSessionId"), str) and record.get("requestSessionId") != record.get("sessionId"):
                forked_from.add(record["requestSessionId"])      # a line --fork-session copied
        elif kind == "user":
            blocks = message_content(record)
            if "<task-notification>" in text_of(blocks)[:200]:
                finished_agents.update(notification_ids(text_of(blocks)))
            interrupted = interrupted or any(is_interruption(b) for b in blocks)
            take_tool_results(record, blocks, when, tools)
            if blocks and record is not records[0] and not text_of(blocks).startswith(INTERRUPT_MARK):
                inputs.append({"role": "user", "content": blocks})
        elif kind == "queue-operation":
            content = record.get("content")
            if isinstance(content, str) and "<task-notification>" in content:
                finished_agents.update(notification_ids(content))
                inputs.append({"role": "user", "content": content})
        last_time = max(last_time, when)
    return {"steps": steps, "tools": tools, "inputs": inputs, "answer": answer, "end": last_time, "meta": meta,
            "ledger": ledger, "compactions": compactions, "copied_from": sorted(forked_from),
            "finished": finished_agents, "interrupted": interrupted}


def analyse(records, start, agents=None, depth=0, notified=(), orphans=()):
    """The steps of one turn (or one subagent run) in time order.

    Returns a dict: prompt, answer, start, end, steps ([{kind: llm|tool, ...}]), usage (all
    model calls, subagents included, each API response once), cost (None when a model has
    no known price), models, files, tool counts and errors, `waiting` (background agents
    that have not reported yet; `notified` holds the ids reported elsewhere in the session)
    and `interrupted` (the user pressed Escape). orphans: subagent runs no call launched that
    happened in this turn; their model calls become this turn's, named by their kind.
    """
    records, agents, side_runs = split_sidechain(records, agents, depth)
    read = read_turn(records, start, notified)
    # Claude has stopped when its last response ended the turn and nothing came after it.
    llm_steps = [s for s in read["steps"] if s["kind"] == "llm"]
    ended = bool(llm_steps) and llm_steps[-1].get("stop_reason") in END_REASONS and not read["inputs"] \
        and all(t["end"] is not None for t in read["tools"].values())
    first = records[0] if records else {}
    command = command_wrapper(first)
    turn = {"prompt": command or text_of(message_content(first)), "answer": read["answer"],
            "command": command.split(" ")[0] if command else None,
            "start": start, "end": read["end"], "steps": read["steps"], "meta": read["meta"], "waiting": [],
            "ended": ended or read["interrupted"], "interrupted": read["interrupted"], "ledger": read["ledger"],
            "compactions": read["compactions"], "copied_from": read["copied_from"]}
    link_subagents(turn, agents, read["finished"], side_runs, orphans, depth)
    add_totals(turn, agents, depth)
    return turn


# Claude Code's ledger (`cost-state`, cumulative per session, written when a process ends)
# also counts requests that leave no assistant line: a compaction, a title, other side
# requests. Whatever the ledger holds beyond the responses traced since its previous entry
# becomes an LLM span of the turn the entry closes (`compaction` when a compact_boundary
# explains it), so that a session's traces add up to the ledger.
LEDGER_FIELDS = {"input": "inputTokens", "output": "outputTokens", "cache_read": "cacheReadInputTokens",
                 "cache_creation": "cacheCreationInputTokens", "cache_creation_1h": "cacheCreationEphemeral1hInputTokens",
                 "web_search": "webSearchRequests"}


def ledger_usage(model_usage):
    """cost-state's modelUsage → {model: our usage dict}."""
    found = {}
    for model, raw in (model_usage or {}).items():
        raw = raw if isinstance(raw, dict) else {}
        usage = {k: raw.get(f) if isinstance(raw.get(f), int) and raw.get(f) > 0 else 0 for k, f in LEDGER_FIELDS.items()}
        usage["total"] = sum(usage[k] for k in TOKEN_KINDS)
        found[model] = usage
    return found


def sum_by_model(*groups):
    total = {}
    for group in groups:
        for model, usage in group.items():
            add_usage(total.setdefault(model, empty_usage()), usage)
    return total


def unrecorded(ledger, base, counted):
    """Per model, what the ledger gained since `base` beyond the responses `counted`."""
    left = {}
    for model, usage in ledger_usage(ledger).items():
        before, seen = ledger_usage(base).get(model, {}), counted.get(model, {})
        rest = {k: usage[k] - before.get(k, 0) - seen.get(k, 0) for k in LEDGER_FIELDS}
        if any(rest[k] > 0 for k in TOKEN_KINDS) and all(v >= 0 for v in rest.values()):
            rest["total"] = sum(rest[k] for k in TOKEN_KINDS)
            left[model] = rest
    return left


def add_side_requests(turn, usage_by_model, compactions):
    """LLM spans for usage that has no assistant line (see above), counted in the turn."""
    name = "compaction" if compactions else "side requests"
    said = "; ".join(f"{c.get('trigger') or 'a'} compaction of {c['preTokens']:,} tokens" if isinstance(
        c.get("preTokens"), int) else f"{c.get('trigger') or 'a'} compaction" for c in compactions)
    attributes = {"claudetracing.compactions": compactions} if compactions else {}
    for model, usage in usage_by_model.items():
        step = {"kind": "llm", "name": name, "model": model, "price_model": model, "start": turn["end"],
                "end": turn["end"], "inputs": [], "usage": usage, "stop_reason": None, "attributes": attributes,
                "content": [{"type": "text", "text": f"Requests Claude Code made with no line in the transcript"
                                                     f"{': ' + said if said else ''} (from its cost-state ledger)."}],
                "cost": cost_of(model, usage)}
        turn["steps"].append(step)
        add_usage(turn["usage"], usage)
        add_usage(turn["by_model"].setdefault(model, empty_usage()), usage)
        turn["cost"] = None if turn["cost"] is None or step["cost"] is None else turn["cost"] + step["cost"]
        if model not in turn["models"]:
            turn["models"].append(model)


def notified_ids(records):
    """The agents and tool calls whose background reports appear in these lines."""
    found = set()
    for _, record in records:
        text = record.get("content") if record.get("type") == "queue-operation" else \
            text_of(message_content(record)) if record.get("type") == "user" else None
        if isinstance(text, str) and "<task-notification>" in text:
            found |= notification_ids(text)
    return found


###############################################################################
# The agent seam: each agent's reader turns its session files into the same turn records
###############################################################################

# An agent is an entry of AGENTS, made by its own section below (Claude Code's, Codex's, Gemini's, Copilot's):
# everything an agent changes is there. The hook, the worker and import call only these, and
# everything after the agent sections (enrichments, redaction, export, search, report) sees
# only turn records, never an agent.
#   what                            what its session files are called, for messages
#   root_span, source_name          the name of a turn's root span (and so of its trace), MLflow's source name
#   hook_input(payload)             its hook input in our keys, where its format differs (optional)
#   hook_events                     {its event name: ours (Stop, SessionEnd)} where they differ (optional)
#   claims(payload, environ)        whether it sent a hook input, whichever hook ran: another agent's
#                                   hook ignores it (optional)
#   hook_job(job, cwd, environ)     the job for a hook input (job_from_hook_input), completed with what
#                                   the worker needs, or None when this hook does not act for it
#   note_jobs(jobs)                 every spooled job, before any session is read (optional)
#   sessions_dir(jobs=())           the folder its session files live under (the worker's guard);
#                                   jobs: a session's, which may name where the agent's home was
#   read(session, path, state, jobs)   the turns from the session's checkpoint on:
#                                   (turns [{id, offset}], end offset, turn_record(i) → turn record)
#   finished(turn, offset, closed, state)   is this turn over (closed: another turn follows it)?
#   settle(session, state, turn)    a finished turn before it is uploaded (optional)
#   tidy(session, state)            the checkpoint, once the turns read are handled (optional)
#   files_in(folder)                the files of a folder given to import that may be its sessions
#   identify(path)                  its session id for a file (by content, never by name): None for a file
#                                   of another agent, "" for one traced with another session
#   project_sessions(root, everything)   {path: session id} of its sessions run inside `root`
# and, for setup (its section there adds them), all optional:
#   label                           its name in messages (by default its name in AGENTS)
#   binary                          its program's name, looked for on PATH (init --agent all)
#   init_check(root, args)          refuse what init cannot do for it, before anything is written
#   wire_settings(settings, invocation)   its hooks in Claude Code's settings files (RepoSettings)
#   wire(root, invocation, yes)     its hooks in files of its own: the lines saying what was written
#   unwire(root)                    take them out again (disable): the lines saying what was written
#   status(root), status_row(info, paint)   what status shows of its wiring ({hooks_file, ...} in the
#                                   JSON, the text of its line), or None when it is not wired
#   names_repository(root)          whether its files wire this repository (doctor)
#   doctor_turn(root, session)      doctor's test turn: a session file of its own format written where
#                                   the worker reads it, and its hooks as the agent runs them:
#                                   (folder to remove afterwards, [(our event, argv, env, hook input)])
#
# A turn record is what the rest of the pipeline (worker, enrichments, Uploader) reads, the
# same for every agent. Its keys:
#   id, session          "<session>:<turn>" and the session id
#   agent                the agent's name in AGENTS (absent: DEFAULT_AGENT), the trace's `agent` tag
#   offset               byte offset of the line the turn starts at (reading resumes there)
#   prompt, answer       what the person asked, the agent's last message
#   start, end           seconds since the epoch
#   ended, interrupted   the agent finished the turn (else the worker holds it back); stopped by the user
#   waiting              ids of subagents still running (the turn may still grow)
#   meta                 {cwd, version, git_branch}; command: a slash command, or None
#   steps                in time order, each
#     {kind: "llm", id, name (optional, default "llm"), model, price_model, start, end,
#      inputs: [{role, content}], content: [blocks], usage, cost, stop_reason, attributes (optional),
#      provider (optional): who served the model, where the agent says (Codex: model_provider)}
#     {kind: "tool", id, name, input, start, end, result, error: bool, meta (optional),
#      subagent (optional): a turn record of the agent's own, plus type and agent_id}
#   usage                {input, output, cache_read, cache_creation, cache_creation_1h, total,
#                         web_search}, subagents included; input excludes cache reads and writes,
#                         total is the sum of the four token kinds (tokens.* tags)
#   by_model, cost       usage per model; USD, None when a model has no known price
#   models, files        models used; files written or edited (absolute when known)
#   tool_counts, tool_errors   {tool name: calls}; calls that failed
#   ledger, compactions, copied_from, parent_session, forked_from   a session's own bookkeeping
#                        (Claude Code's cost-state, --fork-session, /clear; None or [] elsewhere)
# Content blocks follow Anthropic's shapes, so readers of every agent's spans see one format:
# {type: text, text}, {type: thinking, thinking}, {type: tool_use, id, name, input},
# {type: tool_result, tool_use_id, content}.
AGENTS = {}


def add_agent(name, **parts):
    """Register an agent (the keys above); the optional parts do nothing unless given."""
    AGENTS[name] = {"label": name, "note_jobs": lambda jobs: None, "settle": lambda session, state, turn: None,
                    "tidy": lambda session, state: None, "hook_input": lambda payload: payload, "hook_events": {},
                    "claims": lambda payload, environ: False, "init_check": lambda root, args: None,
                    "wire_settings": lambda settings, invocation: None, "wire": lambda root, invocation, yes: [],
                    "status": lambda root: None, "unwire": lambda root: [], "names_repository": lambda root: False,
                    "wire_budget": lambda root, on: [], **parts}


# A hook reports how its turn ended (the agent's last answer); the worker recognises it in the
# session's file by a digest, since a job holds no transcript text.
def answer_digest(message):
    """What the worker needs of an answer to recognise it in the transcript (answers_match)."""
    import hashlib
    text = (message or "").strip()
    return {"length": len(text), "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "head": hashlib.sha256(text[:200].encode()).hexdigest()}


def answers_match(answer, reported):
    """Is `answer` the one a Stop hook reported (its digest; jobs before 0.9 kept the text)?"""
    if not isinstance(reported, dict):
        reported = answer_digest(reported)
    text = (answer or "").strip()
    if not reported.get("length"):
        return True
    digest = answer_digest(text)
    return digest["sha256"] == reported.get("sha256") or (reported["length"] > 200 and digest["head"] == reported.get("head"))


###############################################################################
# Claude Code sessions: when a turn is over, the session's ledger, copies and clears
###############################################################################

# When is a turn finished? By where it ends in the transcript, never by which jobs happened
# to be handled together:
# - A turn followed by another prompt is finished: Claude takes a prompt only when idle.
# - A Stop or SessionEnd job vouches for the bytes written when its hook fired (`size`): the
#   turn under way there had ended. A later process of the same session (--resume,
#   --continue) writes past that size, so its turns are not vouched for by an earlier
#   process's jobs; and a turn that a later prompt closed is the same whoever comes after.
# - A Stop also says how its turn ended (`last_assistant_message`). The last turn of the file
#   is taken once the transcript shows that answer with nothing pending after it; a turn
#   that went on after Stop (a Stop hook that exited 2, a background agent's report) waits
#   for its next Stop. SessionEnd vouches for its bytes as they stand: that process is gone.
# - A turn whose background agent has not reported waits for the report, unless SessionEnd
#   vouched for it.
# A trace once uploaded stays right: while no prompt follows the last uploaded turn it is read
# again, and if lines arrived for it since (a continuation, late-written lines) that change
# it, its trace is replaced by the complete one under the same turn id.


def turn_at(turns, offset):
    """The turn under way at a byte offset: the last one whose prompt starts before it."""
    return next((t for t in reversed(turns) if t["offset"] < offset), None)


def read_caught_up(transcript, state, jobs):
    """Read from the checkpoint, waiting (bounded) until the transcript shows the answer the
    latest Stop reported: Claude Code can run the hook before it writes the turn's last lines."""
    stop = next((j for j in reversed(jobs) if j.get("hook_event_name") == "Stop"), None)
    deadline = (stop or {}).get("time", 0) + STOP_CATCH_UP_SECONDS
    while True:
        final = state["ended"] >= os.path.getsize(transcript)
        records, end, bad = read_lines(transcript, state["offset"], final)
        turns = split_turns(records)
        if stop is None or time.time() > deadline:
            return records, end, bad, turns
        turn = turn_at(turns, stop["size"] if isinstance(stop.get("size"), int) else end + 1)
        if turn is None or answers_match(analyse(turn["records"], 0)["answer"], stop.get("answer") or stop.get("last_assistant_message")):
            return records, end, bad, turns
        time.sleep(0.3)


def claude_finished(turn, offset, closed, state):
    """The rule above, for one analysed turn: (the agent seam's `finished`)."""
    if not closed and offset >= state["vouched"]:
        return False                            # under way: no job vouched for it yet
    gone = offset < state["ended"]
    if turn["waiting"] and not gone:
        return False
    stop = state.get("stop") or {}
    return closed or gone or (turn["ended"] and answers_match(turn["answer"], stop.get("answer", stop.get("message"))))


def cleared_path():
    return os.path.join(private_dir(traces_home(), "state"), "cleared.json")


def remember_clears(jobs):
    """`/clear` ends a session and starts another in the same process (SessionEnd with reason
    "clear"): note which and when, so that the new session can name the one it came from."""
    clears = [{"session": j["session_id"], "cwd": j.get("cwd", ""), "time": j.get("time", 0)}
              for j in jobs if j.get("hook_event_name") == "SessionEnd" and j.get("reason") == "clear"]
    if clears:
        known = read_json_file(cleared_path(), [])
        write_atomic(cleared_path(), json.dumps((known if isinstance(known, list) else [])[-200:] + clears).encode())


def cleared_from(session, records):
    """The session a `/clear` ended to start this one, if it was one: its file opens with the
    `/clear` command lines. Claude Code's own `session_id` field names only the process's
    first session, so the SessionEnd of the clear is looked for first (same folder, same time)."""
    opening = [r for _, r in records[:10] if r.get("type") == "user"]
    if not any("<command-name>/clear</command-name>" in text_of(message_content(r)) for r in opening):
        return None
    started, cwd = parse_time(opening[0].get("timestamp")), opening[0].get("cwd")
    clears = [c for c in read_json_file(cleared_path(), []) if isinstance(c, dict) and c.get("session") != session
              and c.get("cwd") == cwd and isinstance(c.get("time"), (int, float)) and abs(c["time"] - started) < 60]
    if clears:
        return min(clears, key=lambda c: abs(c["time"] - started))["session"]
    first = next((r.get("session_id") for _, r in records if isinstance(r.get("session_id"), str)), None)
    return first if first != session else None


def settle_ledger(state, turn_id, turn):
    """Keep the session's account against Claude Code's ledger for one finished turn: note
    what it used, or, when it holds a cost-state entry, add what nobody's lines explain
    (add_side_requests). A turn read again later finds its numbers pinned in the state."""
    since = state.setdefault("since", {})
    if turn["ledger"] is None:
        since[turn_id] = {"usage": turn["by_model"], "compactions": turn["compactions"]}
        return
    pinned = state.get("ledger_turn") or {}
    if pinned.get("turn") != turn_id:
        others = [v for k, v in since.items() if k != turn_id]
        pinned = {"turn": turn_id, "base": state.get("ledger") or {},
                  "before": sum_by_model(*(v["usage"] for v in others)),
                  "compactions": [c for v in others for c in v["compactions"]]}
    left = unrecorded(turn["ledger"], pinned["base"], sum_by_model(pinned["before"], turn["by_model"]))
    add_side_requests(turn, left, pinned["compactions"] + turn["compactions"])
    state.update(ledger=turn["ledger"], since={}, ledger_turn=pinned)


def claim_responses(session, turn):
    """Each API response is traced once across sessions. --fork-session (and --resume before
    2.1) starts a new file with a copy of the old conversation: the same lines (uuids, message
    ids) under a new session id. A turn whose prompt line and responses another session already
    claimed is such a copy: returns [that session]; otherwise the turn is claimed for this one."""
    import sqlite3
    ids = [s["id"] for s in turn["steps"] if s["kind"] == "llm" and isinstance(s.get("id"), str)]
    prompt = turn["id"].split(":", 1)[1]
    if not ids:
        return []
    path = os.path.join(private_dir(traces_home(), "state"), "responses.sqlite")
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))     # private, like every file of ours
    db = sqlite3.connect(path, timeout=30)
    try:
        with db:
            db.execute("create table if not exists claimed (message_id text primary key, session text not null,"
                       " prompt text not null)")
            marks = ",".join("?" * len(ids))
            owners = {row[0]: row[1:] for row in db.execute(
                f"select message_id, session, prompt from claimed where message_id in ({marks})", ids)}
            others = {owner for owner, line in owners.values() if owner != session and line == prompt}
            if len(owners) == len(ids) and len(others) == 1 and all(line == prompt for _, line in owners.values()):
                return sorted(others)
            db.executemany("insert or ignore into claimed values (?, ?, ?)", [(i, session, prompt) for i in ids])
    finally:
        db.close()
    return []


def session_agents(session, transcript, records):
    """The session's subagent runs, when a turn may need them: it launched agents, or the
    session has agent files (runs no call launched belong to turns too). Claude Code 2.0 kept
    agent files beside the session file, so for its transcripts those are looked at too."""
    folder = os.path.join(transcript[:-len(".jsonl")], "subagents")
    version = next((r["version"] for r in records if isinstance(r.get("version"), str)), "")
    old = version.startswith(("1.", "2.0."))
    if old or os.path.isdir(folder) or any(r.get("type") == "assistant" and any(
            b.get("type") == "tool_use" and b.get("name") in AGENT_TOOLS for b in message_content(r)) for r in records):
        return Subagents(folder, flat_session=session if old else None)
    return None


def fold_ledger(state):
    """Sum the ledger notes of turns no longer open into one entry, keyed by no turn id: they
    are never settled again, and a session whose ledger has no entry yet (an interactive one,
    until it ends) would otherwise carry one note per turn in a checkpoint written every turn."""
    since = state.get("since") or {}
    if any(k and k not in state["open"] for k in since):
        done = [v for k, v in since.items() if k not in state["open"]]
        state["since"] = {"": {"usage": sum_by_model(*(v["usage"] for v in done)),
                               "compactions": [c for v in done for c in v["compactions"]]},
                          **{k: v for k, v in since.items() if k in state["open"]}}


def claude_read(session, transcript, state, jobs):
    """The turns of a Claude Code transcript from the checkpoint on (the seam's `read`); a
    turn is analysed only when the worker asks for it (turn_record)."""
    records, end, bad, turns = read_caught_up(transcript, state, jobs)
    if "parent" not in state and state["offset"] == 0:
        state["parent"] = cleared_from(session, records)
    if bad:
        log(f"{session}: skipped {bad} malformed transcript line(s)")
    for raw in turns:
        raw["id"] = f"{session}:{raw['records'][0].get('uuid') or raw['offset']}"
    notified, agents = notified_ids(records), None

    def turn_record(i):
        nonlocal agents
        raw, closed = turns[i], i + 1 < len(turns)
        agents = agents or session_agents(session, transcript, raw["records"])
        started = parse_time(raw["records"][0].get("timestamp"))
        state.setdefault("first_turn", raw["id"])
        window = (float("-inf") if raw["id"] == state["first_turn"] else started,
                  parse_time(turns[i + 1]["records"][0].get("timestamp"), float("inf")) if closed else float("inf"))
        turn = analyse(raw["records"], started, agents, notified=notified,
                       orphans=agents.orphans(*window) if agents else ())
        turn.update(id=raw["id"], session=session)
        return turn
    return turns, end, turn_record


def claude_settle(session, state, turn):
    """A finished turn's share of the session's bookkeeping: the ledger, the session /clear
    came from, and whether --fork-session copied it from another (the seam's `settle`)."""
    settle_ledger(state, turn["id"], turn)
    turn["parent_session"] = state.get("parent")
    turn["copied_from"] = turn["copied_from"] or claim_responses(session, turn)
    if turn["copied_from"]:
        state["forked_from"] = turn["copied_from"][0]
    turn["forked_from"] = state.get("forked_from")


def holds_transcript_lines(path, lines=100):
    """Whether one of a file's first lines is a transcript line (a JSON object with a type):
    `traces import /etc/passwd` is a mistake worth saying, not zero turns imported."""
    try:
        with open(path, "rb") as f:
            for _, line in zip(range(lines), f, strict=False):
                try:
                    record = json.loads(line)
                except (ValueError, RecursionError):
                    continue
                if isinstance(record, dict) and isinstance(record.get("type"), str):
                    return True
    except OSError as e:
        raise TracesError(f"cannot read {path}: {e.strerror}") from None
    return False


def transcript_cwd(path):
    """The working directory a session ran in, from its first lines that say."""
    try:
        with open(path, "rb") as f:
            for _, line in zip(range(200), f, strict=False):
                if b'"cwd":"' in line:
                    try:
                        return json.loads(line).get("cwd")
                    except ValueError:
                        continue
    except OSError:
        pass
    return None


def project_transcripts(root, everything):
    """The Claude Code transcripts of sessions run in this repository (everything: of every project)."""
    files = []
    base = claude_projects_dir()
    mine = os.path.basename(project_folder(root))
    folders = sorted(os.listdir(base)) if os.path.isdir(base) else []
    for folder in folders:
        if everything or folder == mine or folder.startswith(mine + "-"):
            path = os.path.join(base, folder)
            found = sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith(".jsonl"))
            # Folder names are lossy (widgets-old/ and widgets/old both begin "-widgets-"):
            # a session from a subfolder counts only if its own cwd is inside the repository.
            if not everything and folder != mine:
                found = [f for f in found if inside(transcript_cwd(f), root)]
            files += found
    return files


def claude_identify(path):
    return os.path.basename(path)[:-len(".jsonl")] if holds_transcript_lines(path) else None


add_agent("claude", what="Claude Code transcript", root_span="claude_code_conversation", source_name="claude-code",
          label="Claude Code", hook_job=lambda job, cwd, environ: job, note_jobs=remember_clears,
          wire_settings=lambda settings, invocation: add_our_hooks(settings.shared, hook_command(invocation)),
          sessions_dir=lambda jobs=(): claude_projects_dir(), read=claude_read, finished=claude_finished,
          settle=claude_settle, tidy=lambda session, state: fold_ledger(state),
          files_in=lambda folder: {os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".jsonl")},
          identify=claude_identify,
          project_sessions=lambda root, everything: {
              f: os.path.basename(f)[:-len(".jsonl")] for f in project_transcripts(root, everything)})


###############################################################################
# Codex CLI sessions: rollout files into turn records
###############################################################################

# A rollout line is {timestamp, type, payload}. A turn starts at `task_started` (0.169) or at
# a `turn_context` of another turn (older versions write no task_started), and is over at
# `task_complete` or `turn_aborted`. One model response is one `token_usage_record` (older: one
# `token_count`, whose `last_token_usage` is that response's). OpenAI counts cached input and
# cache writes inside input_tokens, reasoning inside output_tokens: total_tokens = input +
# output, and so is our total. Reasoning is kept apart in usage["reasoning"], never added.

# User-role messages Codex writes itself: context it gives the model, and notices.
CODEX_CONTEXT = ("<environment_context>", "<user_instructions>", "# AGENTS.md instructions")
CODEX_NOT_PROMPTS = CODEX_CONTEXT + ("<subagent_notification>", "<turn_aborted>")
CODEX_SPAWN_TOOLS = ("spawn_agent",)
PATCH_FILE = re.compile(r"^\*\*\* (?:(?:Add|Update|Delete) File|Move to): (.+?)\s*$", re.M)


def codex_read(path, offset=0):
    """Complete rollout lines from a byte offset: (records as (offset, dict), end, bad lines)."""
    return read_lines(path, offset)


def codex_session_meta(path):
    """The rollout's session_meta payload (its first line), {} if there is none."""
    with open(path, "rb") as f:
        line = f.readline()
    try:
        first = json.loads(line)
    except (ValueError, RecursionError):
        return {}
    payload = first.get("payload") if isinstance(first, dict) and first.get("type") == "session_meta" else None
    return payload if isinstance(payload, dict) else {}


def codex_text(content):
    """The text of a Responses API message's content (input_text / output_text parts)."""
    if isinstance(content, str):
        return content
    return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)) \
        if isinstance(content, list) else ""


def codex_usage(raw):
    """A Codex usage object → our usage keys (see above): nothing counted twice."""
    raw = raw if isinstance(raw, dict) else {}

    def count(key):
        value = raw.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
    usage = empty_usage()
    usage.update(cache_read=count("cached_input_tokens"), cache_creation=count("cache_write_input_tokens"),
                 output=count("output_tokens"), reasoning=count("reasoning_output_tokens"))
    usage["input"] = max(count("input_tokens") - usage["cache_read"] - usage["cache_creation"], 0)
    usage["total"] = sum(usage[k] for k in TOKEN_KINDS)
    return usage


def codex_split(records):
    """Group (offset, record) pairs into turns; lines before the first turn are dropped."""
    turns = []
    for offset, record in records:
        payload = record.get("payload") if isinstance(record.get("payload"), dict) else {}
        event = payload.get("type") if record.get("type") == "event_msg" else None
        current = turns[-1] if turns else None
        if event == "task_started" or record.get("type") == "turn_context" and not (
                current and not current["over"] and (payload.get("turn_id") == current["turn_id"] if payload.get(
                    "turn_id") else not current["asked"])):
            current = {"offset": offset, "turn_id": payload.get("turn_id"), "records": [], "over": False,
                       "asked": False}
            turns.append(current)
        if current is None:
            continue
        current["records"].append(record)
        current["asked"] = current["asked"] or event == "user_message" or (
            payload.get("type") == "message" and payload.get("role") == "user"
            and not codex_text(payload.get("content")).lstrip().startswith(CODEX_NOT_PROMPTS))
        current["over"] = current["over"] or event in ("task_complete", "turn_aborted")
    return turns


def codex_agent_rollout(path, agent_id):
    """A subagent's rollout: `rollout-<time>-<agent id>.jsonl` beside the parent's, else in
    another day's folder of the same `sessions/YYYY/MM/DD` tree (an agent can start after
    midnight). The SubagentStop hook names it too (agent_transcript_path)."""
    folder = os.path.dirname(path)
    tree = os.path.dirname(os.path.dirname(os.path.dirname(folder)))
    for top in [folder] + ([tree] if os.path.basename(tree) == "sessions" else []):
        for where, _, names in os.walk(top):
            found = sorted(n for n in names if n.startswith("rollout-") and n.endswith(f"-{agent_id}.jsonl"))
            if found:
                return os.path.join(where, found[-1])
    return None


def codex_turns(records, session_meta, path=None, depth=0):
    """Turn records (see above) of a rollout's (offset, record) pairs, read from the start or
    from a turn's offset. session_meta: the rollout's first payload (codex_session_meta);
    path: the rollout, where subagents' rollouts are looked for."""
    return [codex_turn(raw, session_meta, path, depth) for raw in codex_split(records)]


def codex_turn(raw, session_meta, path, depth):
    """One turn record (see above) from the lines of one turn (codex_split)."""
    records = raw["records"]
    start = parse_time(records[0].get("timestamp"))
    git = session_meta.get("git") if isinstance(session_meta.get("git"), dict) else {}
    state = {"steps": [], "tools": {}, "spawned": {}, "done": {}, "inputs": [], "content": [], "since": start,
             "when": start, "model": None, "prompt": None, "answer": "", "over": False, "interrupted": False,
             "provider": session_meta.get("model_provider") if isinstance(session_meta.get("model_provider"), str) else None,
             "parent_turn": None, "last_total": None, "asked_at": 0,
             "per_response": any(r.get("type") == "token_usage_record" for r in records),
             "meta": {k: v for k, v in (("cwd", session_meta.get("cwd")), ("version", session_meta.get("cli_version")),
                                        ("git_branch", git.get("branch"))) if isinstance(v, str) and v}}
    for record in records:
        state["when"] = max(state["when"], parse_time(record.get("timestamp"), state["when"]))
        payload = record.get("payload") if isinstance(record.get("payload"), dict) else {}
        kind = record.get("type")
        if kind == "response_item":
            codex_item(state, payload)
        elif kind == "event_msg":
            codex_event(state, payload)
        elif kind == "token_usage_record":
            codex_response(state, payload.get("usage"), payload.get("response_id"))
        elif kind == "turn_context":
            if isinstance(payload.get("model"), str) and payload["model"]:
                state["model"] = payload["model"]
            if isinstance(payload.get("cwd"), str) and payload["cwd"]:
                state["meta"]["cwd"] = payload["cwd"]
    session = session_meta.get("id") if isinstance(session_meta.get("id"), str) else ""
    turn = {"id": f"{session}:{raw['turn_id'] or raw['offset']}", "session": session, "agent": "codex",
            "offset": raw["offset"], "turn_id": raw["turn_id"], "parent_turn": state["parent_turn"],
            "prompt": state["prompt"] or "", "answer": state["answer"], "command": None, "start": start,
            "end": state["when"], "steps": state["steps"], "meta": state["meta"], "waiting": [],
            "ended": codex_over(state, records), "interrupted": state["interrupted"],
            "ledger": None, "compactions": [], "copied_from": []}
    if path is not None and depth < 3:
        for step in turn["steps"]:
            if step["kind"] == "tool" and step["name"] in CODEX_SPAWN_TOOLS:
                codex_subagent(turn, step, state["spawned"].get(step["id"]), path, depth)
    codex_totals(turn)
    return turn


def codex_item(state, payload):
    """A response_item: what went to the model (inputs) or came from it (content, tool calls)."""
    kind, when = payload.get("type"), state["when"]
    if kind == "message":
        text = codex_text(payload.get("content"))
        if payload.get("role") == "assistant" and text:
            state["content"].append({"type": "text", "text": text})
            state["answer"] = text
        elif payload.get("role") == "user" and text:
            if state["prompt"] is None and not text.lstrip().startswith(CODEX_NOT_PROMPTS):
                state["prompt"] = text
            elif text != state["prompt"] and not text.lstrip().startswith(CODEX_CONTEXT):
                state["inputs"].append({"role": "user", "content": [{"type": "text", "text": text}]})
            state["since"] = when
    elif kind == "reasoning":
        summary = payload.get("summary") if isinstance(payload.get("summary"), list) else []
        text = codex_text(summary)
        if text:
            state["content"].append({"type": "thinking", "thinking": text})
    elif kind in ("function_call", "custom_tool_call", "local_shell_call"):
        call_id = payload.get("call_id") or payload.get("id")
        arguments = payload.get("arguments")
        try:
            tool_input = json.loads(arguments) if isinstance(arguments, str) else {"input": payload.get("input")} \
                if kind == "custom_tool_call" else payload.get("action")
        except (ValueError, RecursionError):
            tool_input = arguments
        tool = {"kind": "tool", "id": call_id, "name": str(payload.get("name") or kind), "input": tool_input,
                "start": when, "end": None, "result": None, "error": False}
        state["steps"].append(tool)
        if isinstance(call_id, str):
            state["tools"][call_id] = tool
        state["content"].append({"type": "tool_use", "id": call_id, "name": tool["name"], "input": tool_input})
    elif kind in ("function_call_output", "custom_tool_call_output"):
        tool = state["tools"].get(payload.get("call_id"))
        if tool is not None:
            tool["end"], tool["result"] = when, payload.get("output")
        state["inputs"].append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": payload.get("call_id"), "content": payload.get("output")}]})
        state["since"] = when


def codex_event(state, payload):
    """An event_msg: the person's message, the agent's, commands run, the turn's start and end."""
    kind = payload.get("type")
    item = payload.get("item") if kind == "item_completed" and isinstance(payload.get("item"), dict) else {}
    text = payload.get("message") if kind in ("user_message", "agent_message") else \
        codex_text(item.get("content")) if item.get("type") in ("UserMessage", "AgentMessage") else None
    if (kind == "user_message" or item.get("type") == "UserMessage") and isinstance(text, str):
        if state["prompt"] is None and not text.lstrip().startswith(CODEX_NOT_PROMPTS):
            state["prompt"] = text
    elif (kind == "agent_message" or item.get("type") == "AgentMessage") and text:
        state["answer"] = text
    elif item.get("type") == "CommandExecution" or kind == "exec_command_end":
        duration = (item or payload).get("duration")
        state["done"][item.get("id") or payload.get("call_id")] = {
            "exit_code": (item or payload).get("exit_code"), "status": item.get("status"),
            "command": item.get("command") or payload.get("command"),
            "duration": duration.get("secs", 0) + duration.get("nanos", 0) / 1e9 if isinstance(duration, dict) else None}
    elif item.get("type") == "CollabAgentToolCall" and item.get("tool") in CODEX_SPAWN_TOOLS:
        state["spawned"][item.get("id")] = next(iter(item.get("receiver_thread_ids") or []), None)
    elif kind == "task_started":
        attribution = payload.get("turn_attribution") if isinstance(payload.get("turn_attribution"), dict) else {}
        state["parent_turn"] = attribution.get("parent_turn_id")
    elif kind in ("task_complete", "turn_aborted"):
        state["over"] = True
        state["interrupted"] = kind == "turn_aborted"
        if isinstance(payload.get("last_agent_message"), str) and payload["last_agent_message"]:
            state["answer"] = payload["last_agent_message"]
    elif kind == "token_count" and not state["per_response"] and isinstance(payload.get("info"), dict):
        total = payload["info"].get("total_token_usage")
        if total != state["last_total"]:         # older versions repeat an entry with no new response
            state["last_total"] = total
            codex_response(state, payload["info"].get("last_token_usage"), None)


def codex_response(state, raw, response_id):
    """One model response: an llm step holding what went in since the last one and what came out."""
    # It goes before the tool calls it made, which Codex wrote before its usage.
    state["steps"].insert(state["asked_at"], {
        "kind": "llm", "id": response_id or f"response-{len(state['steps'])}", "model": state["model"],
        "price_model": state["model"], "provider": state["provider"], "start": state["since"], "end": state["when"],
        "inputs": state["inputs"], "content": state["content"], "usage": codex_usage(raw), "stop_reason": None})
    state["inputs"], state["content"], state["since"] = [], [], state["when"]
    state["asked_at"] = len(state["steps"])


def codex_over(state, records):
    """Give tool calls their commands' exit codes; is the turn over?"""
    steps, tools = state["steps"], state["tools"]
    for call_id, run in state["done"].items():
        if call_id in tools:
            tools[call_id]["meta"] = run
            tools[call_id]["error"] = run["exit_code"] not in (None, 0) or run["status"] in ("failed", "declined")
    for tool in tools.values():      # a command the user stopped never answered
        tool["error"] = tool["error"] or (state["interrupted"] and tool["end"] is None)
    # Older rollouts have no task_complete: the turn is over when the agent answered last.
    answered = bool(steps) and steps[-1]["kind"] == "llm" and not any(
        b.get("type") == "tool_use" for b in steps[-1]["content"]) and all(t["end"] is not None for t in tools.values())
    older = not any(r.get("type") == "event_msg" and (r.get("payload") or {}).get("type") == "task_started"
                    for r in records)
    return state["over"] or (older and answered)


def codex_subagent(turn, step, agent_id, path, depth):
    """Nest the run of the agent a spawn_agent call started, read from the agent's own rollout
    (its tokens are there, not in the parent's token_count totals); the turn waits while the
    agent is not found or not done."""
    if not agent_id:
        try:
            agent_id = json.loads(step["result"]).get("agent_id")
        except (TypeError, ValueError, AttributeError):
            return
    found = codex_agent_rollout(path, agent_id) if isinstance(agent_id, str) and agent_id else None
    if found is None:
        turn["waiting"].append(agent_id or step["id"])
        return
    meta = codex_session_meta(found)
    records, _, _ = codex_read(found)
    # The agent's turns this turn started; older rollouts do not say, and then all are.
    runs = [t for t in codex_turns(records, meta, found, depth + 1) if t["parent_turn"] in (None, turn["turn_id"])]
    if not runs:
        turn["waiting"].append(agent_id)
        return
    spawn = (meta.get("source") or {}).get("subagent", {}).get("thread_spawn") if isinstance(
        meta.get("source"), dict) else None
    sub = {**runs[-1], "prompt": runs[0]["prompt"], "start": runs[0]["start"],
           "steps": [s for run in runs for s in run["steps"]], "agent_id": agent_id,
           "type": str((spawn or {}).get("agent_role") or "default"),
           "waiting": [a for run in runs for a in run["waiting"]] + ([] if all(r["ended"] for r in runs) else [agent_id])}
    codex_totals(sub)
    step["subagent"] = sub


def patch_files(tool_input, cwd):
    """The files an apply_patch call names, however it was sent (its own tool, or a command)."""
    values = list(tool_input.values()) if isinstance(tool_input, dict) else [tool_input]
    texts = [v for v in values if isinstance(v, str)] + [x for v in values if isinstance(v, list)
                                                         for x in v if isinstance(x, str)]
    where = tool_input.get("workdir") if isinstance(tool_input, dict) and isinstance(tool_input.get("workdir"), str) \
        else cwd
    return [os.path.join(where or "", p) for text in texts if "*** Begin Patch" in text for p in PATCH_FILE.findall(text)]


def codex_totals(turn):
    """Usage, cost, models, files and tool counts of a Codex turn, its subagents' included
    (add_totals, then what only Codex has: patched files, agents read from their own rollouts)."""
    waiting = list(turn["waiting"])
    add_totals(turn, None, 0)
    for step in turn["steps"]:
        if step["kind"] != "tool":
            continue
        turn["files"] += [f for f in patch_files(step["input"], turn["meta"].get("cwd")) if f not in turn["files"]]
        sub = step.get("subagent")
        if sub is not None:
            fold_subagent(turn, step, sub)
            waiting += [a for a in sub["waiting"] if a not in waiting]
    turn["waiting"] = waiting


def codex_sessions_dir(codex_home=None):
    """Where Codex writes rollouts: $CODEX_HOME/sessions (default ~/.codex). A job names the
    CODEX_HOME its hook saw, since the worker may have been started by another agent's hook."""
    home = codex_home or os.environ.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")
    return os.path.join(home, "sessions")


# A Codex session is read the same way, from its rollout, with these differences: a turn is
# over at its `task_complete` (or once another turn follows it, or SessionEnd vouched for it);
# at Stop the rollout holds the whole turn but its task_complete, so a Stop naming the turn
# (turn_id) with the answer the rollout shows ends it too, like Claude's answer-matching.
# A resume appends to the same rollout: the checkpoint reads on from the first open turn.

def codex_finished(turn, offset, closed, state):
    """The rule above, for one turn record (the seam's `finished`)."""
    gone = offset < state["ended"]
    if turn["waiting"] and not gone:
        return False
    stop = state.get("codex_stops", {}).get(turn["turn_id"] or "")
    return closed or gone or turn["ended"] or (stop is not None and answers_match(turn["answer"], stop))


def codex_read_turns(session, rollout, state, jobs):
    """The turns of a rollout from the checkpoint on (the seam's `read`), each a turn record
    already; a Stop that names its turn is noted for codex_finished."""
    for job in jobs:
        if job.get("hook_event_name") == "Stop" and isinstance(job.get("turn_id"), str):
            state.setdefault("codex_stops", {})[job["turn_id"]] = job.get("answer") or {}
    records, end, bad = codex_read(rollout, state["offset"])
    if bad:
        log(f"{session}: skipped {bad} malformed rollout line(s)")
    turns = codex_turns(records, codex_session_meta(rollout), rollout)
    return turns, end, turns.__getitem__


def codex_tidy(session, state):
    """Forget the Stops of turns that are done."""
    done = set(state["done"])
    state["codex_stops"] = {k: v for k, v in state.get("codex_stops", {}).items() if f"{session}:{k}" not in done}


def codex_hook_job(job, cwd, environ):
    """Codex's hooks are the user's (CODEX_HOME/hooks.json), one per traced repository (see
    its setup): each acts only for sessions that run inside its own repository."""
    if not cwd or not inside(os.path.realpath(cwd), os.path.realpath(environ.get("CLAUDE_PROJECT_DIR") or "/-")):
        return None
    return {**job, "agent": "codex", "codex_home": os.path.dirname(codex_sessions_dir(environ.get("CODEX_HOME")))}


def codex_job_sessions(jobs=()):
    """codex_sessions_dir of the CODEX_HOME a session's hook saw."""
    return codex_sessions_dir(next((j["codex_home"] for j in reversed(jobs) if isinstance(j.get("codex_home"), str)), None))


def rollout_session(path):
    """A rollout's session id, by its content: "" for a subagent's rollout (its run is traced
    inside the turn that spawned it), None for a file that is no rollout; and its session_meta."""
    try:
        meta = codex_session_meta(path)
    except OSError as e:
        raise TracesError(f"cannot read {path}: {e.strerror}") from None
    if not isinstance(meta.get("id"), str):
        return None, meta
    source = meta.get("source")
    return ("" if isinstance(source, dict) and "subagent" in source else meta["id"]), meta


def rollout_names(folder):
    """Codex rollouts (rollout-*.jsonl) anywhere under a folder: Codex nests them by date."""
    for where, _, names in sorted(os.walk(folder)):
        yield from (os.path.join(where, n) for n in sorted(names) if n.startswith("rollout-") and n.endswith(".jsonl"))


def codex_rollouts(root, everything):
    """{rollout path: session id} of Codex sessions run inside `root` (everything: all); not a
    subagent's rollout."""
    found = {}
    for path in rollout_names(codex_sessions_dir()):
        path = os.path.abspath(path)
        session, meta = rollout_session(path)
        cwd = meta.get("cwd") if isinstance(meta.get("cwd"), str) else ""
        if session and (everything or inside(os.path.realpath(cwd), os.path.realpath(root))):
            found[path] = session
    return found


add_agent("codex", what="Codex rollout", root_span="codex_conversation", source_name="codex-cli", label="Codex",
          hook_job=codex_hook_job, sessions_dir=codex_job_sessions, read=codex_read_turns, finished=codex_finished,
          tidy=codex_tidy, files_in=rollout_names, identify=lambda path: rollout_session(path)[0],
          project_sessions=codex_rollouts)


###############################################################################
# Gemini CLI sessions: chat files into turn records
###############################################################################

# Gemini CLI writes a session to ~/.gemini/tmp/<project>/chats/ (GEMINI_CLI_HOME replaces the
# home folder), in one of two forms; both give the same message records {id, timestamp, type,
# content, ...}, of type user, gemini, info, error or warning:
# - session-<time>-<id8>.jsonl (0.61): a header {sessionId, projectHash, startTime, kind}, then
#   one line per message and `{"$set": {...}}` patches. A model message is written as soon as
#   it is answered and again, same id, once its tool calls have results (toolCalls[] {id, name,
#   args, result: [functionResponse], status, timestamp}): it is one response, read once, last
#   version kept. `--resume` appends a new header and a `$set` of the whole message list: a
#   restatement of what is already there, skipped (as is the `<session_context>` message
#   Gemini CLI puts first in that list).
# - session-*.json (earlier versions): one document {sessionId, projectHash, startTime,
#   lastUpdated, messages: [...]}, rewritten whole as the session grows. It has no byte
#   offsets worth keeping: its "offsets" are message indexes, so a checkpoint reads on from a
#   message, and the file may be rewritten longer between reads.
# A turn starts at a user message holding text (a functionResponse message is a tool result),
# and ends at a model message that answers with text and calls no tool, or at an error.
# info, error and warning messages are the CLI's own notices, never turns.
# Usage per model message: tokens {input (the API's promptTokenCount: cached included),
# cached, output (candidates), thoughts, tool (tool-use prompt), total = input + output +
# thoughts + tool}. Ours: input = input - cached + tool, cache_read = cached, output = output +
# thoughts (Google bills thinking as output, and so our total is Gemini's), reasoning = thoughts
# kept apart inside output, as for Codex.
GEMINI_FILE_TOOLS = ("write_file", "replace")
GEMINI_SHELL_TOOL = "run_shell_command"
GEMINI_EXIT_CODE = re.compile(r"^Exit Code: (-?\d+)\s*$", re.M)
GEMINI_CONTEXT = "<session_context>"


def gemini_dir():
    """~/.gemini, or $GEMINI_CLI_HOME/.gemini (Gemini CLI's own override of the home folder)."""
    return os.path.join(os.environ.get("GEMINI_CLI_HOME") or os.path.expanduser("~"), ".gemini")


def gemini_sessions_dir():
    return os.path.join(gemini_dir(), "tmp")


def gemini_document(path):
    """An older session-*.json document, {} if it is not one."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) and isinstance(data.get("messages"), list) else {}


def gemini_read(path, offset=0, final=False):
    """New message records from a checkpoint: (records as (offset, dict), end, bad records).
    JSONL: byte offsets (read_lines); the older .json: message indexes (see above)."""
    if not path.endswith(".json"):
        return read_lines(path, offset, final)
    messages = gemini_document(path).get("messages") or []
    records = [(i, m) for i, m in enumerate(messages) if i >= offset and isinstance(m, dict)]
    return records, max(len(messages), offset), sum(not isinstance(m, dict) for m in messages[offset:])


def gemini_session_meta(path):
    """{id, start, cwd, project_hash} of a chat file: its header (the document's for .json), and the project
    folder Gemini CLI names in ../.project_root; {} if the file is not a Gemini chat."""
    if path.endswith(".json"):
        header = gemini_document(path)
    else:
        with open(path, "rb") as f:
            line = f.readline()
        try:
            header = json.loads(line)
        except (ValueError, RecursionError):
            header = None
    if not isinstance(header, dict) or not isinstance(header.get("sessionId"), str) or \
            not isinstance(header.get("projectHash"), str) or "type" in header:
        return {}
    try:
        with open(os.path.join(os.path.dirname(os.path.dirname(path)), ".project_root"), encoding="utf-8") as f:
            cwd = f.read().strip()
    except OSError:
        cwd = ""
    return {"id": header["sessionId"], "start": header.get("startTime"), "cwd": cwd, "project_hash": header["projectHash"]}


def gemini_text(content):
    """The text of a message's content: a string, or parts [{text}, {functionResponse}, ...]."""
    if isinstance(content, str):
        return content
    return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)) \
        if isinstance(content, list) else ""


def gemini_is_prompt(record):
    content = record.get("content")
    return record.get("type") == "user" and not gemini_text(content).lstrip().startswith(GEMINI_CONTEXT) and not (
        isinstance(content, list) and any(isinstance(p, dict) and "functionResponse" in p for p in content))


def gemini_split(records):
    """Group (offset, record) pairs into turns, one per prompt; headers, patches and lines
    before the first prompt are dropped."""
    turns = []
    for offset, record in records:
        if not isinstance(record.get("type"), str) or not isinstance(record.get("id"), str):
            continue                            # a header or a $set patch
        if gemini_is_prompt(record):
            turns.append({"offset": offset, "records": []})
        if turns:
            turns[-1]["records"].append(record)
    return turns


def gemini_usage(raw):
    """A Gemini message's tokens → our usage keys (see above)."""
    raw = raw if isinstance(raw, dict) else {}

    def count(key):
        value = raw.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
    usage = empty_usage()
    usage.update(cache_read=count("cached"), output=count("output") + count("thoughts"), reasoning=count("thoughts"),
                 input=max(count("input") - count("cached"), 0) + count("tool"))
    usage["total"] = sum(usage[k] for k in TOKEN_KINDS)
    return usage


def gemini_turns(records, session_meta, path=None):
    """Turn records (see the Codex section) of a chat's (offset, record) pairs."""
    return [gemini_turn(raw, session_meta) for raw in gemini_split(records)]


def gemini_turn(raw, session_meta):
    """One turn record from the message records of one turn (gemini_split)."""
    messages = {}
    for record in raw["records"]:              # a message written twice is read once, last version
        messages[record["id"]] = record
    messages = list(messages.values())
    prompt = messages[0]
    start = parse_time(prompt.get("timestamp"))
    state = {"steps": [], "answer": "", "since": start, "when": start,
             "inputs": [{"role": "user", "content": [{"type": "text", "text": gemini_text(prompt.get("content"))}]}]}
    for record in messages[1:]:
        state["when"] = max(state["when"], parse_time(record.get("timestamp"), state["when"]))
        if record["type"] == "gemini":
            gemini_response(state, record)
        elif record["type"] == "user":
            results = [p["functionResponse"] for p in record.get("content") or []
                       if isinstance(p, dict) and isinstance(p.get("functionResponse"), dict)]
            state["inputs"] += [{"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": r.get("id"), "content": gemini_result(r)}]} for r in results]
            state["since"] = state["when"]
    last = next((m for m in reversed(messages) if m["type"] in ("gemini", "error")), prompt)
    session = session_meta.get("id") or ""
    turn = {"id": f"{session}:{prompt['id']}", "session": session, "agent": "gemini", "offset": raw["offset"],
            "turn_id": prompt["id"], "prompt": gemini_text(prompt.get("content")), "answer": state["answer"],
            "command": None, "start": start, "end": state["when"], "steps": state["steps"],
            "meta": {"cwd": session_meta["cwd"]} if session_meta.get("cwd") else {}, "waiting": [],
            "ended": last["type"] == "error" or (last["type"] == "gemini" and not last.get("toolCalls")
                                                 and bool(gemini_text(last.get("content")).strip())),
            "interrupted": False, "ledger": None, "compactions": [], "copied_from": []}
    gemini_totals(turn)
    return turn


def gemini_result(response):
    """What a tool answered: a functionResponse's response.output (or error), else all of it."""
    body = response.get("response")
    if isinstance(body, dict) and len(body) == 1 and isinstance(next(iter(body.values())), str):
        return next(iter(body.values()))
    return body


def gemini_response(state, record):
    """One model message: an llm step holding what went in since the last one and what came
    out, then a tool step per call it made."""
    when = parse_time(record.get("timestamp"), state["when"])
    content = [{"type": "thinking", "thinking": ": ".join(str(t.get(k)) for k in ("subject", "description") if t.get(k))}
               for t in record.get("thoughts") or [] if isinstance(t, dict)]
    text = gemini_text(record.get("content"))
    if text:
        content.append({"type": "text", "text": text})
        state["answer"] = text
    calls = [c for c in record.get("toolCalls") or [] if isinstance(c, dict)]
    content += [{"type": "tool_use", "id": c.get("id"), "name": c.get("name"), "input": c.get("args")} for c in calls]
    usage = gemini_usage(record.get("tokens"))
    model = record.get("model") if isinstance(record.get("model"), str) and record.get("model") else None
    state["steps"].append({"kind": "llm", "id": record["id"], "model": model, "price_model": model,
                           "start": state["since"], "end": when, "inputs": state["inputs"], "content": content,
                           "usage": usage, "stop_reason": None,
                           "attributes": {"claudetracing.thoughts_tokens": usage["reasoning"]} if usage["reasoning"] else {}})
    for call in calls:
        results = [p["functionResponse"] for p in call.get("result") or []
                   if isinstance(p, dict) and isinstance(p.get("functionResponse"), dict)]
        result = gemini_result(results[0]) if results else None
        code = GEMINI_EXIT_CODE.search(result) if isinstance(result, str) and call.get("name") == GEMINI_SHELL_TOOL else None
        status = call.get("status")
        meta = {"status": status, "exit_code": int(code.group(1)) if code else (0 if status == "success" and call.get(
            "name") == GEMINI_SHELL_TOOL else None)}
        if isinstance(call.get("args"), dict) and isinstance(call["args"].get("command"), str):
            meta["command"] = call["args"]["command"]
        state["steps"].append({"kind": "tool", "id": call.get("id"), "name": str(call.get("name") or "tool"),
                               "input": call.get("args"), "start": when,
                               "end": parse_time(call.get("timestamp"), when) if results else None, "result": result,
                               "error": status not in (None, "success") or meta["exit_code"] not in (None, 0),
                               "meta": meta})
    state["inputs"], state["since"] = [], when


def gemini_totals(turn):
    """Usage, cost, models, files and tool counts (add_totals), and the files Gemini's write
    and replace tools changed (their file_path, relative to the project when not absolute)."""
    add_totals(turn, None, 0)
    for step in turn["steps"]:
        path = step["input"].get("file_path") if step["kind"] == "tool" and step["name"] in GEMINI_FILE_TOOLS \
            and isinstance(step["input"], dict) else None
        if isinstance(path, str) and path:
            path = os.path.join(turn["meta"].get("cwd") or "", path)
            if path not in turn["files"]:
                turn["files"].append(path)


# A Gemini CLI session is read like a Codex one: turn records from the checkpoint on. A turn is
# over once another prompt follows it, once it ends with an answer that calls no tool (or with
# an error), or once SessionEnd vouched for it (the process is gone). AfterAgent (a Stop to
# us) runs when the chat file holds the whole turn, so the answer is there to see; a Stop alone
# does not end a turn that does not look over, since import sends one for a file still written.

def gemini_finished(turn, offset, closed, state):
    """The rule above, for one turn record (the seam's `finished`)."""
    return closed or turn["ended"] or offset < state["ended"]


def gemini_read_turns(session, path, state, jobs):
    """The turns of a chat file from the checkpoint on (the seam's `read`)."""
    records, end, bad = gemini_read(path, state["offset"])
    if bad:
        log(f"{session}: skipped {bad} malformed chat line(s)")
    turns = gemini_turns(records, gemini_session_meta(path))
    return turns, end, turns.__getitem__


def gemini_hook_job(job, cwd, environ):
    """Gemini CLI's hooks are the project's own (.gemini/settings.json): every session they run
    for is this repository's. The job names the Gemini folder the hook saw."""
    return {**job, "agent": "gemini", "gemini_home": gemini_dir()}


def gemini_job_sessions(jobs=()):
    """gemini_sessions_dir of the Gemini folder a session's hook saw."""
    home = next((j["gemini_home"] for j in reversed(jobs) if isinstance(j.get("gemini_home"), str)), None)
    return os.path.join(home, "tmp") if home else gemini_sessions_dir()


def gemini_identify(path):
    """A chat file's session id, by its content; None for a file that is no Gemini chat."""
    try:
        return gemini_session_meta(path).get("id")
    except OSError as e:
        raise TracesError(f"cannot read {path}: {e.strerror}") from None


def gemini_chat_names(folder):
    """Gemini chat files (session-*.json, session-*.jsonl) anywhere under a folder."""
    for where, _, names in sorted(os.walk(folder)):
        yield from (os.path.join(where, n) for n in sorted(names)
                    if n.startswith("session-") and n.endswith((".json", ".jsonl")))


def gemini_chats(root, everything):
    """{chat file: session id} of Gemini CLI sessions run inside `root` (everything: all), in
    either form. A project's folder under ~/.gemini/tmp says where the project is in
    .project_root; versions before that named the folder by the project's hash (sha256 of its
    path), as the chat's header does."""
    import hashlib
    digest = hashlib.sha256(os.path.realpath(root).encode()).hexdigest()
    found = {}
    for path in gemini_chat_names(gemini_sessions_dir()):
        meta = gemini_session_meta(path)
        if meta and (everything or meta["project_hash"] == digest
                     or inside(os.path.realpath(meta["cwd"] or "/-"), os.path.realpath(root))):
            found[os.path.abspath(path)] = meta["id"]
    return found


add_agent("gemini", what="Gemini CLI chat", root_span="gemini_cli_conversation", source_name="gemini-cli",
          label="Gemini CLI",          hook_events={"AfterAgent": "Stop"}, hook_job=gemini_hook_job, sessions_dir=gemini_job_sessions,
          read=gemini_read_turns, finished=gemini_finished, files_in=gemini_chat_names, identify=gemini_identify,
          project_sessions=gemini_chats)


###############################################################################
# Copilot CLI sessions: events.jsonl into turn records
###############################################################################

# GitHub Copilot CLI writes a session to ~/.copilot/session-state/<session id>/events.jsonl
# (COPILOT_HOME replaces ~/.copilot), one record a line: {type, data, id, timestamp, parentId}.
# A turn is a `user.message` and everything until the next one; `--resume` and `--continue`
# append to the same file after a `session.resume`. One model call is one
# `session.usage_record` (written just before the `assistant.message` that holds its text and
# toolRequests); tools run between `tool.execution_start` and `tool.execution_complete` (the
# shell's exit code in shellExecution.exitCode). `assistant.turn_start`/`turn_end` frame one
# model call, not a turn. The turn is over once the agent stopped: Copilot writes the
# agentStop hook's `hook.start` after the turn's last lines, and `session.shutdown` (the
# session's own totals per model, cumulative across resumes) when the process ends.
# Usage: inputTokens counts cached reads and writes, outputTokens counts reasoning (OpenAI's
# way, as Codex's), so input = inputTokens - cacheRead - cacheWrite and reasoning is kept apart.
COPILOT_FILE = "events.jsonl"
COPILOT_FILE_TOOLS = ("create", "edit")        # tools whose `path` is a file written


def copilot_sessions_dir(copilot_home=None):
    """Where Copilot CLI keeps sessions: $COPILOT_HOME/session-state (default ~/.copilot)."""
    home = copilot_home or os.environ.get("COPILOT_HOME") or os.path.join(os.path.expanduser("~"), ".copilot")
    return os.path.join(home, "session-state")


def copilot_count(raw, key):
    value = raw.get(key) if isinstance(raw, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def copilot_usage(raw):
    """A usage_record's usage (or a modelMetrics usage) → our usage keys: nothing counted twice."""
    usage = empty_usage()
    usage.update(cache_read=copilot_count(raw, "cacheReadTokens"), cache_creation=copilot_count(raw, "cacheWriteTokens"),
                 output=copilot_count(raw, "outputTokens"), reasoning=copilot_count(raw, "reasoningTokens"))
    usage["input"] = max(copilot_count(raw, "inputTokens") - usage["cache_read"] - usage["cache_creation"], 0)
    usage["total"] = sum(usage[k] for k in TOKEN_KINDS)
    return usage


def copilot_session_meta(path):
    """{id, cwd, version, git_branch} from the session's first record (session.start), {} if none."""
    try:
        with open(path, "rb") as f:
            first = json.loads(f.readline())
    except (ValueError, RecursionError):
        return {}
    data = first.get("data") if isinstance(first, dict) and first.get("type") == "session.start" else None
    if not isinstance(data, dict) or not isinstance(data.get("sessionId"), str):
        return {}
    context = data.get("context") if isinstance(data.get("context"), dict) else {}
    return {"id": data["sessionId"], **{k: v for k, v in (
        ("cwd", context.get("cwd")), ("version", data.get("copilotVersion")), ("git_branch", context.get("branch")))
        if isinstance(v, str) and v}}


def copilot_split(records):
    """Group (offset, record) pairs into turns at each user.message of the main agent (a
    subagent's records carry its agentId); lines before the first turn are dropped."""
    turns = []
    for offset, record in records:
        if record.get("type") == "user.message" and "agentId" not in record:
            turns.append({"offset": offset, "records": []})
        if turns:
            turns[-1]["records"].append(record)
    return turns


def copilot_turn(raw, session, meta):
    """One turn record (see the agent seam) from the records of one turn (copilot_split), its
    subagents' runs nested under the `task` calls that started them."""
    records = [r for r in raw["records"] if "agentId" not in r]
    runs = {}
    for record in raw["records"]:
        if "agentId" in record:
            runs.setdefault(str(record["agentId"]), []).append(record)
    turn = copilot_run(records, session, meta, raw["offset"])
    tools = {step["id"]: step for step in turn["steps"] if step["kind"] == "tool"}
    started = {r["data"].get("toolCallId"): r["data"] for r in records if r.get("type") == "subagent.started"
               and isinstance(r.get("data"), dict)}
    for agent_id, run in runs.items():
        step = tools.get(copilot_parent_call(run))
        if step is None:
            continue                    # a run no call of this turn started: its usage is not lost,
        sub = copilot_run(run, session, meta, raw["offset"])         # see copilot_nest
        sub.update(agent_id=agent_id, type=str((started.get(step["id"]) or {}).get("agentName") or "general-purpose"))
        step["subagent"] = sub
    copilot_nest(turn, [r for agent_id, r in runs.items() if not tools.get(copilot_parent_call(r))], session, meta)
    return turn


def copilot_parent_call(run):
    """The tool call that started a subagent's run, as its records name it."""
    for record in run:
        data = record.get("data") if isinstance(record.get("data"), dict) else {}
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        if data.get("parentToolCallId") or usage.get("parentToolCallId"):
            return data.get("parentToolCallId") or usage.get("parentToolCallId")
    return None


def copilot_nest(turn, strays, session, meta):
    """Add the subagents' usage, cost, models, files and tools to the turn's; a run no call of
    the turn started keeps its model calls as the turn's own llm steps."""
    for run in strays:
        turn["steps"] += [s for s in copilot_run(run, session, meta, turn["offset"])["steps"] if s["kind"] == "llm"]
    if strays:
        copilot_totals(turn)
    for step in turn["steps"]:
        if step.get("subagent") is not None:
            fold_subagent(turn, step, step["subagent"])


def copilot_run(records, session, meta, offset):
    """The turn record of one agent's records (the main agent's, or a subagent's)."""
    start = parse_time(records[0].get("timestamp"))
    state = {"steps": [], "tools": {}, "inputs": [], "since": start, "when": start, "answer": "", "ended": False,
             "llm": None, "meta": dict(meta)}
    asked = next((r["data"] for r in records if r.get("type") == "user.message" and isinstance(r.get("data"), dict)), {})
    prompt = asked.get("content")
    for record in records:
        state["when"] = max(state["when"], parse_time(record.get("timestamp"), state["when"]))
        data = record.get("data") if isinstance(record.get("data"), dict) else {}
        copilot_record(state, record.get("type"), data, record.get("id"))
    turn = {"id": f"{session}:{records[0].get('id') or offset}", "session": session, "agent": "copilot",
            "offset": offset, "prompt": prompt if isinstance(prompt, str) else "", "answer": state["answer"],
            "command": None, "start": start, "end": state["when"], "steps": state["steps"],
            "meta": {k: v for k, v in state["meta"].items() if k != "id"}, "waiting": [], "ended": state["ended"],
            "interrupted": False, "ledger": None, "compactions": [], "copied_from": []}
    copilot_totals(turn)
    return turn


def copilot_totals(turn):
    """add_totals, and the files Copilot's own file tools wrote."""
    add_totals(turn, None, 0)
    for step in turn["steps"]:
        path = step["input"].get("path") if step["kind"] == "tool" and isinstance(step["input"], dict) else None
        if step["kind"] == "tool" and step["name"] in COPILOT_FILE_TOOLS and isinstance(path, str) \
                and path not in turn["files"]:
            turn["files"].append(path)


def copilot_record(state, kind, data, record_id):
    """One events.jsonl record into the turn being built."""
    when = state["when"]
    if kind == "session.usage_record":
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        model = usage.get("model") if isinstance(usage.get("model"), str) else None
        state["llm"] = {"kind": "llm", "id": usage.get("apiCallId") or record_id, "model": model, "price_model": model,
                        "start": state["since"], "end": when, "inputs": state["inputs"], "content": [],
                        "usage": copilot_usage(usage), "stop_reason": usage.get("finishReason")}
        state["steps"].append(state["llm"])
        state["inputs"], state["since"] = [], when
    elif kind == "assistant.message":
        content = state["llm"]["content"] if state["llm"] else []
        if isinstance(data.get("content"), str) and data["content"]:
            content.append({"type": "text", "text": data["content"]})
            state["answer"] = data["content"]
        for call in data.get("toolRequests") if isinstance(data.get("toolRequests"), list) else []:
            if isinstance(call, dict):
                content.append({"type": "tool_use", "id": call.get("toolCallId"), "name": call.get("name"),
                                "input": call.get("arguments")})
        state["llm"] = None
    elif kind == "tool.execution_start":
        tool = {"kind": "tool", "id": data.get("toolCallId"), "name": str(data.get("toolName") or "tool"),
                "input": data.get("arguments"), "start": when, "end": None, "result": None, "error": False}
        state["steps"].append(tool)
        state["tools"][data.get("toolCallId")] = tool
    elif kind == "tool.execution_complete":
        tool = state["tools"].get(data.get("toolCallId"))
        result = data.get("result") if isinstance(data.get("result"), dict) else {}
        shell = data.get("shellExecution") if isinstance(data.get("shellExecution"), dict) else {}
        if tool is not None:
            tool.update(end=when, result=result.get("content"), meta={"exit_code": shell.get("exitCode")},
                        error=data.get("success") is False or shell.get("exitCode") not in (None, 0))
        state["inputs"].append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": data.get("toolCallId"), "content": result.get("content")}]})
        state["since"] = when
    elif kind == "session.resume" and isinstance(data.get("context"), dict):
        if isinstance(data["context"].get("cwd"), str):
            state["meta"]["cwd"] = data["context"]["cwd"]
    elif kind == "hook.start" and data.get("hookType") == "agentStop" or kind == "session.shutdown":
        state["ended"] = True


def copilot_read(path, offset=0):
    """The turn records of an events.jsonl from a byte offset (a turn's start), and the end
    offset and the count of malformed lines skipped."""
    records, end, bad = read_lines(path, offset)
    meta = copilot_session_meta(path)
    session = meta.get("id", "")
    return [copilot_turn(raw, session, meta) for raw in copilot_split(records)], end, bad


def copilot_read_turns(session, path, state, jobs):
    """The turns of a session file from the checkpoint on (the seam's `read`)."""
    turns, end, bad = copilot_read(path, state["offset"])
    if bad:
        log(f"{session}: skipped {bad} malformed events line(s)")
    return turns, end, turns.__getitem__


def copilot_finished(turn, offset, closed, state):
    """A turn is over once another prompt follows it, the agent stopped (agentStop's hook.start,
    session.shutdown), or a SessionEnd vouched for its bytes (the seam's `finished`)."""
    return closed or turn["ended"] or offset < state["ended"]


def copilot_identify(path):
    """Its session id for an events.jsonl (by its session.start), None for another file."""
    try:
        return copilot_session_meta(path).get("id")
    except OSError as e:
        raise TracesError(f"cannot read {path}: {e.strerror}") from None


def copilot_files(folder):
    """The events.jsonl files under a folder (a session-state folder, or one session's)."""
    for where, _, names in sorted(os.walk(folder)):
        if COPILOT_FILE in names:
            yield os.path.join(where, COPILOT_FILE)


def copilot_sessions(root, everything):
    """{events.jsonl: session id} of Copilot CLI sessions run inside `root` (everything: all)."""
    found = {}
    for path in copilot_files(copilot_sessions_dir()):
        meta = copilot_session_meta(path)
        if meta and (everything or inside(os.path.realpath(meta.get("cwd") or "/-"), os.path.realpath(root))):
            found[os.path.abspath(path)] = meta["id"]
    return found


# Copilot CLI's hooks: our own, in the user's ~/.copilot/hooks (see its setup), name the
# repository they trace and act only for sessions inside it, like Codex's. Copilot sends its
# own format camelCase with no event name (agentStop's input has a transcriptPath, sessionEnd's
# a reason) and the Claude-style format as Claude Code's (Stop, SessionEnd); it also runs the
# hooks of a trusted repository's .claude/settings.json with that input. Those come from
# Copilot, not Claude Code (copilot_claims): our own Copilot hook records the turn, once.

def copilot_hook_input(payload):
    """Copilot's camelCase input in our keys, its event named as Copilot names it."""
    if not isinstance(payload, dict) or "hook_event_name" in payload or not isinstance(payload.get("sessionId"), str):
        return payload
    event = "agentStop" if "stopReason" in payload or "transcriptPath" in payload else \
        "sessionEnd" if "reason" in payload else None
    return {"hook_event_name": event, "session_id": payload["sessionId"], "cwd": payload.get("cwd"),
            **{ours: payload[theirs] for ours, theirs in (("transcript_path", "transcriptPath"), ("reason", "reason"))
               if isinstance(payload.get(theirs), str)}}


def copilot_claims(payload, environ):
    """Whether Copilot CLI sent this hook input, whatever file the hook was in: its session
    file is in Copilot's folder; an input naming none (SessionEnd) is Copilot's when Copilot ran
    the hook (it sets COPILOT_CLI; Claude Code run from a Copilot shell names its transcript)."""
    path = payload.get("transcript_path") if isinstance(payload, dict) else None
    if not path:
        return environ.get("COPILOT_CLI") == "1"
    return isinstance(path, str) and inside(os.path.realpath(path),
                                            os.path.realpath(copilot_sessions_dir(environ.get("COPILOT_HOME"))))


def copilot_hook_job(job, cwd, environ):
    """The job of our Copilot hook for a session inside its repository (CLAUDE_PROJECT_DIR,
    which our command sets); a sessionEnd names no file, so the session's is named for it."""
    if not cwd or not inside(os.path.realpath(cwd), os.path.realpath(environ.get("CLAUDE_PROJECT_DIR") or "/-")):
        return None
    home = os.path.dirname(copilot_sessions_dir(environ.get("COPILOT_HOME")))
    if job.get("transcript_path"):
        return {**job, "agent": "copilot", "copilot_home": home}
    path = os.path.join(copilot_sessions_dir(home), job["session_id"], COPILOT_FILE)
    size = os.path.getsize(path) if os.path.isfile(path) else None     # what this sessionEnd vouches for
    return {**job, "agent": "copilot", "copilot_home": home, "transcript_path": path, "size": size}


def copilot_job_sessions(jobs=()):
    """copilot_sessions_dir of the COPILOT_HOME a session's hook saw."""
    return copilot_sessions_dir(next((j["copilot_home"] for j in reversed(jobs) if isinstance(j.get("copilot_home"), str)), None))


add_agent("copilot", what="Copilot CLI session", root_span="copilot_cli_conversation", source_name="copilot-cli",
          label="Copilot CLI", hook_input=copilot_hook_input, hook_events={"agentStop": "Stop", "sessionEnd": "SessionEnd"},
          claims=copilot_claims, hook_job=copilot_hook_job, sessions_dir=copilot_job_sessions, read=copilot_read_turns,
          finished=copilot_finished, files_in=copilot_files, identify=copilot_identify, project_sessions=copilot_sessions)


###############################################################################
# Enrichments: the registry (what each adds) and the values computed per turn
###############################################################################

ENRICHMENTS = {}


def enrichment(name, description, tags):
    """Register an enrichment; the function computes its tags for one turn."""
    def register(fn):
        ENRICHMENTS[name] = {"name": name, "description": description, "tags": tags, "compute": fn}
        return fn
    return register


def enabled_enrichments(env):
    value = env.get(ENV_ENRICHMENTS)
    if value is None:
        return list(ENRICHMENTS)
    return [n for n in (p.strip() for p in value.split(",")) if n in ENRICHMENTS]


@enrichment("git", "the commit, branch and repository the turn ran on",
            ["git.commit_id", "git.branch", "git.remote_url", "git.repo_name"])
def enrich_git(turn, context):
    cwd = context.get("cwd") or ""
    if not os.path.isdir(cwd):
        return {}
    tags = {}
    # The commit HEAD had when the turn ended, so an import of old sessions is right too.
    commit = run(["git", "rev-list", "-1", f"--before=@{int(turn['end'])}", "HEAD"], cwd=cwd)
    commit = commit or run(["git", "rev-parse", "HEAD"], cwd=cwd)
    if commit:
        tags["git.commit_id"] = commit
    branch = turn.get("git_branch") or run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=cwd)
    if branch:
        tags["git.branch"] = branch
    remote = run(["git", "remote", "get-url", "origin"], cwd=cwd)
    if remote:
        tags["git.remote_url"] = strip_credentials(remote)
        name = repo_name_from_remote(remote)
        if name:
            tags["git.repo_name"] = name
    return tags


def fit_json_list(items, limit):
    """A JSON list that fits in limit characters, the rest counted by a `+N more` entry."""
    for keep in range(len(items), -1, -1):
        shown = items[:keep] + ([f"+{len(items) - keep} more"] if keep < len(items) else [])
        text = json.dumps(shown, ensure_ascii=False)
        if len(text) <= limit:
            return text
    return "[]"


@enrichment("files", "repository-relative paths Claude wrote or edited in the turn, subagents included",
            ["files.modified", "files.count"])
def enrich_files(turn, context):
    root = context.get("root") or context.get("cwd") or ""
    paths = []
    for path in turn["files"]:
        rel = os.path.relpath(path, root) if root and os.path.isabs(path) else path
        if rel.startswith(".." + os.sep) and os.path.isabs(path):
            rel = path
        if rel not in paths:
            paths.append(rel)
    return {"files.modified": fit_json_list(paths, TAG_VALUE_LIMIT), "files.count": str(len(paths))}


@enrichment("tokens", "tokens of the turn, subagents included",
            ["tokens.input", "tokens.output", "tokens.cache_read", "tokens.cache_creation", "tokens.total"])
def enrich_tokens(turn, context):
    usage = turn["usage"]
    return {f"tokens.{k}": str(usage[k]) for k in ("input", "output", "cache_read", "cache_creation", "total")}


@enrichment("cost", "the turn's cost in USD (omitted for a model without a known price)", ["cost.usd"])
def enrich_cost(turn, context):
    return {} if turn["cost"] is None else {"cost.usd": f"{turn['cost']:.6f}"}


###############################################################################
# Redaction: secrets never leave the machine
###############################################################################

# A transcript holds whatever passed through the terminal: .env files, curl
# commands, kubeconfigs. Everything is redacted before it leaves the machine
# (span inputs and outputs, previews, tags); the spool and checkpoints stay
# private local files.
#
# A rule is (kind, regex, triggers). A trigger is a small regular expression that matches
# wherever the regex can match; the triggers of all rules are joined into one expression, so
# one scan of the text says which rules to run (most lines run none). A named group `secret`
# marks the part to replace and keeps the context readable (`Authorization: Bearer
# [REDACTED:bearer]`); without it the whole match is replaced. A rule may add a check
# (`LazyPattern(..., check=f)`) that looks at the match and returns the span to redact, or
# None to leave it: a declined match is still consumed, so no input makes a rule look at the
# same characters twice. Every quantifier is bounded and nothing backtracks far, so
# redaction stays linear in the text (tests/test_fuzz.py).
# Rules run in order, well-known shapes before the generic `NAME=value` ones, so a GitHub
# token in a .env file is reported as github-token. No rule takes a `[REDACTED:...]`
# marker, so redacting twice changes nothing.


class LazyPattern:
    """A regular expression compiled on first use (compiling all of them costs the hook,
    which never redacts, a few hundred milliseconds at import), with an optional check."""

    def __init__(self, pattern, flags=0, check=None):
        self.pattern, self.flags, self.check = pattern, flags, check

    def __getattr__(self, name):
        # Called only for what the instance lacks: kept, the method is found directly next time.
        method = getattr(self.compiled(), name)
        setattr(self, name, method)
        return method

    def compiled(self):
        if "_compiled" not in self.__dict__:
            self._compiled = re.compile(self.pattern, self.flags)
        return self._compiled


def _word_start(literal, length):
    """`literal` (`length` characters) where no word character precedes it, but for the `n`
    of a JSON-escaped newline. Checked behind the literal rather than with a leading \\b:
    `re` scans quickly only for patterns that open with a literal."""
    return f"{literal}(?:(?<![A-Za-z0-9_].{{{length}}})|(?<=\\\\[nrt].{{{length}}}))"


# A value that only stands for a secret: a reference ($VAR, ${VAR}, $(cmd), %VAR%,
# {{ template }}, <your-token>) or a placeholder in one of the shapes docs use: your-...,
# ...-here, example, dummy, placeholder, sample, redacted, an ellipsis, or a run of mask
# characters (xxxxx, *****). `changeme` is not one: it is also a password in use somewhere.
_REFERENCE = LazyPattern(r"\$\{|\$\(|\{\{|<|%[A-Za-z_]\w*%|\$[A-Z_][A-Z0-9_]*(?![^/:.,}\]])"
                          r"|\[")
# Words are searched in the value in lowercase, runs of one mask character (xXxXx is none) in
# the value as it is. Every branch opens with a literal, which `re` finds quickly; it would try
# an `(?i:...)` branch, or `x{5}`, at every position.
# A placeholder word starts a word: `CYEXAMPLEKEY` inside a random value (AWS's documented
# sample secret key, found in real .env files) is a secret's shape all the same. Checked
# behind each word, not before the alternation, which `re` would enter at every position.
_PLACEHOLDER = LazyPattern("|".join(f"{word}(?<![a-z0-9]{word})" for word in
                                    ("example", "dummy", "placeholder", "sample", "redacted"))
                           + r"|here$|>$|\.\.\.|…")
_MASK_RUN = LazyPattern(r"xxxxx|XXXXX|\*\*\*\*\*|•••••|#####")
_MASK_ONLY = LazyPattern(r"([xX*•#.-])\1{2,}$")


def _stands_for_a_secret(value):
    return bool(_REFERENCE.match(value) or value[:4].lower() == "your"
                or _PLACEHOLDER.search(value.lower()) or _MASK_RUN.search(value)
                or _MASK_ONLY.match(value))


def _secret_span(match):
    """Default check: the `secret` group (or the whole match) unless it is a placeholder."""
    group = "secret" if "secret" in match.re.groupindex else 0
    start, end = match.span(group)
    if start < 0 or _stands_for_a_secret(match.group(group)):
        return None
    return start, end


def _line_before(match, limit=300):
    """The text between the start of the match's line and the match (JSON's `\\n` ends lines too)."""
    text, end = match.string, match.start()
    before = text[max(0, end - limit):end]
    for newline in ("\n", "\r", "\\n", "\\r"):
        at = before.rfind(newline)
        if at >= 0:
            before = before[at + len(newline):]
    return before


# --- triggers --------------------------------------------------------------------------------

# `re` scans fast for an expression whose every branch opens with a literal character: it
# skips, in C, each position that holds none of those characters, and stops at each one that
# does. There a branch is dismissed without being entered when its next item is a literal or a
# class that fails; one that opens with a lookaround is entered every time, at twice the cost.
# So a trigger opens with a character of what it looks for (the rarer the better), then a
# literal or a class, and only then looks behind for the rest: `K[0-9a-f](?<=SK.)` finds
# `SKf0...` by its `K`. A trigger for a name in any case is written with its first letter in
# lowercase, and used in both cases. A trigger may check more of its rule where that is cheap
# (bearer's 16 characters, the `:` after a URL's user), so that the rule, which searches the
# whole text, is not run where it would find nothing.


def _both_cases(*triggers):
    return tuple(case for trigger in triggers
                 for case in (trigger, trigger[0].upper() + trigger[1:]))


# --- names that announce a secret ------------------------------------------------------------

# The name must end with one of these words, in any case and spelling (DB_PASSWORD,
# clientSecret, api-key, APIKEY): MAX_TOKENS, TOKEN_URL, token_count and bypass do not.
# `pass` and `pwd` count only after a separator (db_pass, MYSQL_PWD, ODBC's `;Pwd=`), not
# alone (PWD is the shell's directory).
_SECRET_WORDS = ("password", "passwd", "passphrase", "secret", "token", "credential",
                 "credentials")
_KEY_QUALIFIERS = ("api", "access", "private", "secret", "signing", "encryption", "master",
                   "account", "client", "auth")


def _letters(word):
    """`word` in any case, one class per letter: `re` dismisses a branch that opens with a
    literal or a class without entering it, but not one that opens with (?i:...)."""
    return "".join(f"[{letter}{letter.upper()}]" for letter in word)


# A name that ends with one of these words, matched from a rare letter of the word and
# checked around it (a trigger, see above): a `re` search then skips quickly to the few
# positions holding one, which an alternation of the words would not.
_SECRET_NAMES = _both_cases(
    "p" + _letters("ass") + "(?:" + _letters("word") + "|" + _letters("wd") + "|"
    + _letters("phrase") + "|(?<=[_;-][pP][aA][sS][sS]))",
    "p" + _letters("wd") + "(?<=[_;-][pP][wW][dD])",
    "c" + _letters("ret") + "(?<=[sS][eE][cC][rR][eE][tT])",
    "c" + _letters("redential") + "[sS]?",
    "k" + _letters("en") + "(?<=[tT][oO][kK][eE][nN])",
    "k" + _letters("ey") + "(?:%s)" % "|".join(
        f"(?<={_letters(q)}[kK][eE][yY])|(?<={_letters(q)}[_-][kK][eE][yY])"
        for q in _KEY_QUALIFIERS))
_SECRET_NAME = "(?:%s)" % "|".join(_SECRET_NAMES)
# The lowercase words a name ends with: a value that holds one is a name too (password=password).
_SECRET_STEM = LazyPattern("pass|pwd|secret|token|credential|key")
# Between the name and the value: an optional closing quote and bracket, as in
# `"password": ...` and `os.environ["TOKEN"] = ...`, then `=`, `:`, `:=` or `=>`.
_ASSIGN = r"(?:\\?[\"'])?\]?[ \t]*(?::=|=>|[:=])[ \t]*"
# The generic rule's triggers: a name, its end, and _ASSIGN up to the operator.
_NAME_TRIGGERS = tuple(name + r"(?![A-Za-z0-9_.-])(?:\\?[\"'])?\]?[ \t]*[:=]"
                       for name in _SECRET_NAMES)
# A quoted value ends at its closing quote (a lookahead and a backreference make the scan
# atomic: no backtracking into it); a bare value at whitespace, a quote or a backslash (a
# JSON-escaped `\n` ends the line). The check decides where a bare value really ends.
_VALUE = (r"(?:(?P<q>\\?[\"'`])(?=(?P<quoted>(?:(?!(?P=q))[^\n]){1,1000}))(?P=quoted)(?P=q)"
          r"|(?![=>])(?P<bare>[^\s\"'`\\]{1,1000}))")
# Bare values that are code or schema words, not secrets: `password: str`, `token = None`.
_CODE_WORDS = {"str", "string", "bytes", "int", "float", "bool", "boolean", "number", "object",
               "any", "none", "null", "nil", "true", "false", "yes", "no", "required",
               "optional", "secretstr", "undefined", "read", "write"}
_LINE_END = ("\n", "\r", "\\n", "\\r", '"', "")
_NAME_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
_QUERY_END = LazyPattern(r"[&#;]")
# libpq's conninfo and its kin: `password=pw dbname=app`.
_NEXT_SETTING = LazyPattern(r"[ \t]+[A-Za-z_]{1,30}=(?!=)")
_CODE_CALL = LazyPattern(r"[A-Za-z_][\w.]*[(\[]")
_IDENTIFIER = LazyPattern(r"[A-Za-z_][\w.]*")
_DIGIT, _LETTER = LazyPattern(r"[0-9]"), LazyPattern(r"[A-Za-z]")


def _env_secret(match):
    """Where the value of `NAME = value` is a secret: any quoted literal; a bare one in a
    .env or shell line (UPPER_CASE name), in a URL query (`?token=x`), with a digit,
    alone at the end of its line (`password: hunter`, YAML and INI) or a password before
    another setting (`password=pw dbname=app`), unless it is code
    (`getpass()`, `self.token`, `password=password`) or a code word (`password: str`)."""
    if match.group("q") is not None:
        value = match.group("quoted")
        return None if _stands_for_a_secret(value) else match.span("quoted")
    text, (start, end) = match.string, match.span("bare")
    # The name starts up to 64 ASCII name characters before the word the regex found.
    before = text[max(0, match.start() - 64):match.start()]
    name_start = match.start() - len(before) + len(before.rstrip(_NAME_CHARACTERS))
    name = text[name_start:match.end("name")]
    value = match.group("bare")
    query = text[name_start - 1:name_start] in ("?", "&", ";")
    if query:
        value = _QUERY_END.split(value, maxsplit=1)[0]
    else:
        value = value.rstrip(",;:)]}")
    end, lowercase = start + len(value), value.lower()
    if (not value or lowercase in _CODE_WORDS or value.isdigit() or _CODE_CALL.match(value)
            or _stands_for_a_secret(value)):
        return None
    if query or name.isupper():
        return start, end
    if _IDENTIFIER.fullmatch(value) and ("." in value or _SECRET_STEM.search(lowercase)):
        return None  # self.token, password=password
    if _DIGIT.search(value) and _LETTER.search(value):
        return start, end
    after = text[end:end + 2]
    if after[:1] in _LINE_END or after in _LINE_END:
        return start, end
    if name.lower().endswith(("pass", "passwd", "password", "pwd")) and _NEXT_SETTING.match(text, end):
        return start, end
    return None


def _url_password(match):
    """`scheme://user:password@host`, unless the `password` is a port (`host:8080/@user`)."""
    if re.match(r"[0-9]{1,5}(?:/|\Z)", match.group("secret")):
        return None
    return _secret_span(match)


def _netrc_password(match):
    """`password p` alone on its line, or after `machine h login u` on the same line."""
    before = _line_before(match)
    if before.strip() and not re.search(r"(?:^|\s)login\s+\S+\s+$", before):
        return None
    return _secret_span(match)


def _pgpass_password(match):
    """`host:port:database:user:password`, the whole line, host first."""
    before = _line_before(match)
    if not re.fullmatch(r"[ \t]*[A-Za-z0-9.*_-]{1,253}", before):
        return None
    return _secret_span(match)


def _value_span(match):
    """A flag's or an argument's value, quoted (`--password 'two words'`) or bare, unless
    it stands for a secret (`--token "$GH_TOKEN"`)."""
    group = "quoted" if match.group("q") is not None else "bare"
    if _stands_for_a_secret(match.group(group)):
        return None
    return match.span(group)


# A command's arguments, each quoted (JSON's `\"` too) or bare.
_ARGUMENT = LazyPattern(r"\\?\"[^\"]*\\?\"|'[^']*'|[^\s\"']+")
_QUOTED = LazyPattern(r"(\\?[\"'])(.+)\1\Z")


def _htpasswd_password(match):
    """The password argument of `htpasswd -b[c] file user pw` or `htpasswd -nb[B] user pw`
    (-n: no file); -C and -r take a number first. Without -b htpasswd prompts."""
    flags, positional, number_next = "", [], False
    for argument in _ARGUMENT.finditer(match.group("args")):
        word = argument.group()
        if not positional and word[:1] == "-" and len(word) > 1:
            flags, number_next = flags + word[1:], word[-1] in "Cr"
        elif number_next:
            number_next = False
        else:
            positional.append(argument)
    index = 1 if "n" in flags else 2
    if "b" not in flags or len(positional) <= index:
        return None
    argument, offset = positional[index], match.start("args")
    start, end = argument.span()
    quoted = _QUOTED.match(argument.group())
    if quoted:
        start, end = start + quoted.start(2), start + quoted.end(2)
    value = match.string[offset + start:offset + end]
    return None if _stands_for_a_secret(value) else (offset + start, offset + end)


# `sk-` where a word starts, as _word_start has it: not in task-, disk-, mask-.
_SK = r"k-(?<=sk-)(?:(?<![A-Za-z0-9_]sk-)|(?<=\\[nrt]sk-))"
# A secret with no shape of its own next to the id it belongs to, as SDK constructors take
# them (`Client("AC...", "token")`), `id:secret` pairs and CSV rows hold them.
_PAIR = r"\\?[\"']?(?:[ \t]*[,:][ \t]*|[ \t]{1,20})\\?[\"']?"
# A flag's value: quoted, up to its closing quote (atomic, as in _VALUE), or bare, neither
# another flag nor a redirection. _value_span takes the one that matched.
_FLAG_VALUE = (r"(?:(?P<q>\\?[\"'])(?=(?P<quoted>(?:(?!(?P=q))[^\n]){1,1000}))(?P=quoted)(?P=q)"
               r"|(?![-\\])(?P<bare>[^\s\"'`;&|()<>\\]{1,1000}))")
# A command's words up to a flag, on its line. A backslash ends them too, so that a JSON
# `\n` escape ends the line (one class, not an alternation that let `\"` through: half the time).
_ARGS = r"(?:[ \t][^\n|;&\\]{0,200}?)?"
# Tools that take a password as a short flag: (the tool, its flag, what may stand between the
# flag and the value, the trigger: the tool's name, which is rarer than its flag). mysql and
# its kin take it glued only: `mysql -p app` prompts, then opens the database app. One rule a
# tool: `re` scans fast for a pattern that opens with one literal, not for an alternation.
_PASSWORD_FLAGS = (("m(?:ysql|ariadb)[a-z-]{0,12}", "-p", "", ("ql(?<=mysql)", "b(?<=mariadb)")),
                   ("sshpass", "-p", "[ \t]{0,20}", ("hpass(?<=sshpass)",)),
                   ("twine", "-p", "[ \t]{0,20}", ("-p(?<=[ \t]-p)",)),
                   ("mongo(?:sh|dump|restore|import|export)?", "-p", "[ \t]{0,20}", ("go(?<=mongo)",)),
                   ("redis-cli", "-a", "[ \t]{0,20}", ("-cli(?<=redis-cli)",)),
                   ("sqlcmd", "-P", "[ \t]{0,20}", ("qlcmd(?<=sqlcmd)",)))
# Calls that take a credential positionally, and the position of the secret:
# HTTPBasicAuth("bob", "pw"), smtp.login("bob", "pw"), ClientSecretCredential(tenant, client,
# "secret"), braintree's Configuration.configure(environment, merchant, public, "private").
_POSITIONAL_SECRETS = {"HTTPBasicAuth": 1, "HTTPDigestAuth": 1, "HTTPProxyAuth": 1, "BasicAuth": 1,
                       "DigestAuth": 1, ".login": 1, "OAuth1": 1, "OAuthHandler": 1,
                       "OAuth1UserHandler": 1, "ClientSecretCredential": 2,
                       "UsernamePasswordCredential": 2, "SearchClient.create": 1,
                       "algoliasearch": 1, "Configuration.configure": 3}
_CALL_ARGUMENT = r"(?:\\?[\"'][^\"'\\\n]{0,256}\\?[\"']|[A-Za-z_][\w.]{0,100})"
_CALL_ARGUMENTS = LazyPattern(_CALL_ARGUMENT)


def _positional_secret(match):
    """The argument of a _POSITIONAL_SECRETS call that holds the secret, if it is a literal.
    The rule matched from the `(`, after a name that ends as one of theirs does."""
    text, at = match.string, match.start()
    index = next((index for call, index in _POSITIONAL_SECRETS.items() if text.endswith(call, 0, at)), None)
    arguments = list(_CALL_ARGUMENTS.finditer(match.group("args")))
    if index is None or len(arguments) <= index:
        return None
    quoted = _QUOTED.match(arguments[index].group())
    if not quoted or _stands_for_a_secret(quoted.group(2)):
        return None
    start = match.start("args") + arguments[index].start()
    return start + quoted.start(2), start + quoted.end(2)


REDACTIONS = [
    # First, so that the key body is not chewed up piecewise by other rules. PEM and
    # OpenSSH blocks, PGP key blocks, GCP service-account JSON (`\n` escapes in the body);
    # a block cut short (no END line) is redacted up to the end of its body.
    ("private-key", LazyPattern(
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:[A-Za-z0-9+/=\s\\:,]|-(?!----))*"
        r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?"), ("KEY(?<=PRIVATE KEY)",)),
    # kubeconfig: the same key, base64-encoded. client-certificate-data is public.
    ("private-key", LazyPattern(
        r"client-key-data\\?[\"']?:[ \t]*\\?[\"']?(?P<secret>[A-Za-z0-9+/=]{16,})"),
     ("key-data(?<=client-key-data)",)),
    # Pairs (_PAIR) before the rules that take their ids.
    ("aws-secret-access-key", LazyPattern(
        _word_start("(?:AKIA|ASIA)", 4) + "[A-Z0-9]{16}" + _PAIR
        + r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"), ("A(?:KIA|SIA)",)),
    # Twilio: an account SID and its auth token, an API key SID and its secret.
    ("twilio-key", LazyPattern(
        _word_start("AC", 2) + "[0-9a-f]{32}" + _PAIR + "(?P<secret>[0-9a-f]{32})(?![A-Za-z0-9])"),
     ("C[0-9a-f](?<=AC.)",)),
    ("twilio-key", LazyPattern(
        _word_start("SK", 2) + "[0-9a-f]{32}" + _PAIR + "(?P<secret>[A-Za-z0-9]{32})(?![A-Za-z0-9])"),
     ("K[0-9a-f](?<=SK.)",)),
    ("aws-access-key-id", LazyPattern(
        _word_start("(?:AKIA|ASIA|ABIA|ACCA)", 4) + r"[A-Z0-9]{16}(?![A-Za-z0-9])"),
     ("A(?:KIA|SIA|BIA|CCA)",)),
    # A secret access key is 40 base64 characters with no prefix: only its
    # name (credentials file, env var, `aws sts` JSON) identifies it.
    ("aws-secret-access-key", LazyPattern(
        "[sS](?i:ecret_?access_?key)(?![A-Za-z0-9_])" + _ASSIGN
        + r"\\?[\"']?(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"),
     _both_cases("k[eE][yY](?:(?<=[sS][sS][kK][eE][yY])|(?<=[sS][sS]_[kK][eE][yY]))")),
    ("github-token", LazyPattern(
        _word_start("gh[pousr]_", 4) + "[A-Za-z0-9]{36,255}|"
        + _word_start("github_pat_", 11) + "[A-Za-z0-9_]{22,255}"),
     ("gh[pousr]_", "github_pat_")),
    ("gitlab-token", LazyPattern(
        _word_start("gl(?:pat|ptt)-", 6) + "[A-Za-z0-9_-]{20,255}|"
        + _word_start("gl(?:dt|rt)-", 5) + "[A-Za-z0-9_-]{20,255}"),
     ("gl(?:pat|ptt|dt|rt)-",)),
    ("slack-token", LazyPattern(
        _word_start("xox[abposr]-", 5) + "[A-Za-z0-9-]{10,255}|"
        + _word_start("xapp-", 5) + "[0-9]-[A-Za-z0-9-]{10,255}"),
     ("xox[abposr]-", "xapp-")),
    ("slack-webhook", LazyPattern(
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/"
        r"(?P<secret>[A-Za-z0-9_/-]{20,255})"),
     (r"k\.com/(?<=hooks\.slack\.com/)",)),
    # Publishable keys (pk_) too: harmless alone, but they name the account.
    ("stripe-key", LazyPattern(
        _word_start("[rsp]k_(?:live|test)_", 8) + "[A-Za-z0-9]{16,255}"),
     ("k_(?:live|test)_",)),
    ("sendgrid-key", LazyPattern(
        _word_start(r"SG\.", 3) + r"[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{20,64}"),
     (r"G\.(?<=SG\.)",)),
    # An API key SID; the account SID (AC...) is an identifier, the auth token has no shape.
    ("twilio-key", LazyPattern(_word_start("SK", 2) + r"[0-9a-f]{32}(?![A-Za-z0-9])"),
     ("K[0-9a-f](?<=SK.)",)),
    ("huggingface-token", LazyPattern(_word_start("hf_", 3) + "[A-Za-z0-9]{30,255}"), ("hf_",)),
    ("npm-token", LazyPattern(_word_start("npm_", 4) + "[A-Za-z0-9]{36}(?![A-Za-z0-9])"),
     ("pm_(?<=npm_)",)),
    ("pypi-token", LazyPattern(_word_start("pypi-", 5) + "AgE[A-Za-z0-9_-]{50,1000}"),
     ("AgE(?<=pypi-AgE)",)),
    # Before openai-key, whose `sk-` prefix it shares.
    ("anthropic-key", LazyPattern(_word_start("sk-ant-", 7) + "[A-Za-z0-9_-]{20,255}"),
     (_SK,)),
    # The digit keeps long hyphenated words such as CSS class names out.
    ("openai-key", LazyPattern(
        _word_start("sk-", 3) + "(?:proj-|svcacct-|admin-)?(?=[A-Za-z_-]{0,255}[0-9])"
        "[A-Za-z0-9_-]{20,255}"), (_SK,)),
    ("google-api-key", LazyPattern(
        _word_start("AIza", 4) + "[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])"), ("AIza",)),
    ("databricks-token", LazyPattern(
        _word_start("dapi", 4) + r"[0-9a-f]{32}(?:-[0-9]+)?\b"), ("pi[0-9a-f](?<=dapi.)",)),
    # Azure storage connection strings, and shared access signatures in URLs.
    ("azure-storage-key", LazyPattern(
        r"AccountKey=(?P<secret>[A-Za-z0-9+/]{20,200}={0,2})"), ("Key=(?<=AccountKey=)",)),
    ("azure-sas", LazyPattern(r"[?&]sig=(?P<secret>[A-Za-z0-9%+/=]{20,200})"),
     (r"\?sig=", "&sig=")),
    # An Entra ID (Azure AD) client secret: a digit and `Q~` after its first three characters.
    ("azure-client-secret", LazyPattern(
        r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])"),
     ("Q~",)),
    # Header and payload are base64 of a JSON object, hence both start `eyJ`.
    ("jwt", LazyPattern(
        _word_start("eyJ", 3) + r"[A-Za-z0-9_-]{10,4000}\.eyJ[A-Za-z0-9_-]{10,4000}"
        r"\.[A-Za-z0-9_-]{0,4000}"), ("J(?<=eyJ)",)),
    # scheme://user:password@host keeps the user, which says whose account it is. The
    # password may hold `/`, `:` and `@` (percent-encoded or not): it ends at the last `@`.
    ("url-password", LazyPattern(
        r"://[^\s:/?#@\"'<>\[\]\\]{0,128}:(?P<secret>[^\s\"'<>\\]{1,128})@(?=[A-Za-z0-9\[])",
        check=_url_password), (r"//(?<=://)[^\s:/?#@\"'<>\[\]\\]{0,128}:",)),
    # 16 characters keeps prose ("Bearer tokens are...") out.
    ("bearer", LazyPattern(
        r"(?:Bearer|bearer|BEARER)[ \t]{1,20}(?P<secret>[A-Za-z0-9._~+/=-]{16,4000})"),
     tuple(scheme + r"[ \t]{1,20}[A-Za-z0-9._~+/=-]{16}" for scheme in ("Bearer", "bearer", "BEARER"))),
    # Other schemes (Basic, token) and bare header values; without a scheme
    # only a long value counts, so "Authorization: required" is left alone.
    ("authorization", LazyPattern(
        r"(?:Authorization|authorization|AUTHORIZATION)\\?[\"']?[ \t]*[:=][ \t]*\\?[\"']?"
        r"(?:(?i:basic|bearer|token|digest)[ \t]+|(?=[A-Za-z0-9._~+/=-]{20}))"
        r"(?P<secret>[A-Za-z0-9._~+/=-]{6,4000})"),
     (r"zation(?<=[Aa]uthorization)\\?[\"']?[ \t]*[:=]", r"ZATION(?<=AUTHORIZATION)\\?[\"']?[ \t]*[:=]")),
    # X-API-Key, X-Auth-Token and their kin, as headers (`-H 'X-API-Key: x'`) or in JSON.
    ("http-header", LazyPattern(
        r"[xX]-(?i:(?:[a-z0-9]{1,20}-){0,3}(?:api-?key|key|token|secret))\\?[\"']?[ \t]*:"
        r"[ \t]*\\?[\"']?(?P<secret>[^\s\"'\\,;]{4,1000})"),
     _both_cases("x-(?i:(?:[a-z0-9]{1,20}-){0,3}(?:api-?key|key|token|secret))")),
    # Registry credentials: docker's config.json `"auth": "<base64 user:password>"`,
    # .npmrc `_auth=` and `_authToken=`, `npm config set //registry/:_authToken x`.
    ("registry-auth", LazyPattern(
        r"\\?\"auth\\?\"[ \t]*:[ \t]*\\?\"(?P<secret>[A-Za-z0-9+/]{8,1000}={0,2})\\?\""),
     ('h"(?<="auth")', r'h\\"(?<="auth\\")')),
    ("registry-auth", LazyPattern(
        _word_start("_auth", 5) + r"(?:Token)?(?:[ \t]*=[ \t]*|[ \t]+)\\?[\"']?"
        r"(?P<secret>[^\s\"'\\]{6,1000})"),
     (r"h[T \t=](?<=_auth.)",)),
    # ~/.netrc: `machine h login u password p`, or `password p` alone on its line.
    ("netrc-password", LazyPattern(
        _word_start("password", 8) + r"[ \t]{1,20}(?P<secret>[^\s\\\"']{1,256})"
        r"(?=[ \t]*(?:\n|\r|\\n|\\r|\Z|[ \t]account|[ \t]machine))",
        check=_netrc_password),
     (r"password[ \t](?:(?<![A-Za-z0-9_]password.)|(?<=\\[nrt]password.))[ \t]{0,19}[^\s\\\"']{1,256}"
      r"(?=[ \t]*(?:\n|\r|\\n|\\r|\Z|[ \t]account|[ \t]machine))",)),
    # ~/.pgpass: `host:port:database:user:password`. Matched from the port, a literal `:`.
    ("pgpass-password", LazyPattern(
        r":(?:[0-9]{2,5}|\*):[^\s:\\]{1,128}:(?=[^\s:\\]{0,127}[A-Za-z*])[^\s:\\]{1,128}:"
        r"(?P<secret>[^\s:\\\"']{1,256})(?=[ \t]*(?:\n|\r|\\n|\\r|\Z))",
        check=_pgpass_password), (r":[0-9*][0-9]{0,4}:[^\s:\\]{1,128}:",)),
    # Command-line flags: `--password pw`, `--token='x'`, `--db-password "two words"`,
    # `huggingface-cli login --token x`. A reference (`--token "$GH_TOKEN"`), a flag that
    # only names where the secret is (`--password-stdin`, `--token-file`), a switch or a
    # limit (`--no-password`, `--max-token 512`) and docker's `--secret id=x,src=file` are
    # left alone.
    ("flag-secret", LazyPattern(
        r"--(?!no-|max-|min-)(?:[a-z0-9]{1,20}-){0,3}(?:password|passwd|passphrase|token|api-?key|secret"
        r"|secret-(?:access-)?key)(?:[ \t]{1,20}|=)(?!id=|src=)" + _FLAG_VALUE, check=_value_span),
     (r"--(?:[a-z0-9]{1,20}-){0,3}(?:password|passwd|passphrase|token|api-?key|apikey|secret"
      r"|secret-(?:access-)?key)[ \t=]",)),
    # Single-dash options: keytool's and jarsigner's `-storepass pw`, openssl's
    # `-passin pass:pw` (not `env:VAR`, `file:path`, `fd:3`, `stdin`).
    ("flag-secret", LazyPattern(
        r"-(?<=[ \t]-)(?:(?:src|dest)?(?:store|key)pass|pass(?:in|out|word)?)[ \t]{1,20}(?:pass:)?"
        r"(?!(?:env|file|fd):|stdin\b|[0-9]{1,2}\b)" + _FLAG_VALUE, check=_value_span),
     # Spelled out: a trigger's optional group is entered at every `-`.
     (r"-(?:storepass|keypass|srcstorepass|srckeypass|deststorepass|destkeypass|pass(?:in|out|word)?)[ \t]",)),
    # `curl -u user:pw`, `--user 'user:pw'`, smbclient's `-U user%pw`.
    ("flag-secret", LazyPattern(
        r"(?:(?:-u|--user)(?:[ \t]{1,20}|=)\\?[\"']?[A-Za-z0-9._@+][A-Za-z0-9._@+-]{0,255}:"
        r"|-U[ \t]{1,20}\\?[\"']?[A-Za-z0-9._@+\\][A-Za-z0-9._@+\\-]{0,255}%)"
        r"(?P<secret>[^\s\"'`;&|()<>\\]{1,1000})"),
     (r"-u[ \t]", r"--user[ \t=]", r"-U[ \t]")),
    *(("flag-secret", LazyPattern(tool + _ARGS + "[ \t]" + flag + gap + _FLAG_VALUE, check=_value_span),
       triggers) for tool, flag, gap, triggers in _PASSWORD_FLAGS),
    # A `login` subcommand's -p: `docker login -u bob -p pw`, `az login`, `oc login`, `cf login`;
    # not a port (`ssh -l login -p 22`).
    ("flag-secret", LazyPattern(
        r"login(?<=[ \t]login)" + _ARGS + r"[ \t]-p[ \t]{0,20}(?![0-9]{1,5}(?![^\s\"'\\]))" + _FLAG_VALUE,
        check=_value_span), (r"gin(?<=[ \t]login)",)),
    # htpasswd takes the password as an argument (-b); which one, _htpasswd_password says.
    ("flag-secret", LazyPattern(
        r"htpasswd(?P<args>(?:[ \t]{1,20}(?:[^\s|;&\\]|\\(?![nrt])){1,256}){1,8})",
        check=_htpasswd_password), ("htpasswd[ \t]",)),
    # requests.get(url, auth=("user", "pw")) and its friends.
    ("flag-secret", LazyPattern(
        r"auth[ \t]*=[ \t]*\([ \t]*(?P<q>\\?[\"'])[^\"'\\\n]{0,256}(?P=q)[ \t]*,[ \t]*"
        r"(?P<r>\\?[\"'])(?P<secret>[^\"'\\\n]{1,256})(?P=r)"),
     (r"h[ \t=](?<=auth.)",)),
    # HTTPBasicAuth("bob", "pw"), smtp.login("bob", "pw") and the other _POSITIONAL_SECRETS.
    ("flag-secret", LazyPattern(
        # From the `(`, looking behind for the last four letters of a name (a fixed width):
        # `re` finds a literal quickly, and an alternation of names slowly.
        r"\((?<=(?:%s)\()" % "|".join(sorted({re.escape(call[-4:]) for call in _POSITIONAL_SECRETS}))
        + r"[ \t]*(?P<args>" + _CALL_ARGUMENT + r"(?:[ \t]*,[ \t]*" + _CALL_ARGUMENT + "){0,4})",
        check=_positional_secret),
     # Each opens with a character that other triggers open with already (see above).
     (r"Auth(?:1|1UserHandler|Handler)?\(", r"gin\((?<=\.login\()", r"Credential\(", r"Client\.create\(",
      r"h\((?<=algoliasearch\()", r"Configuration\.configure\(")),
    # `NAME = value` in .env, shell, YAML, TOML, INI, JSON, Python and URL queries. Which
    # values count is the check's job (_env_secret).
    ("env-secret", LazyPattern(
        r"(?P<name>" + _SECRET_NAME + r")(?![A-Za-z0-9_.-])" + _ASSIGN + _VALUE,
        check=_env_secret), _NAME_TRIGGERS),
]

# For dict values, whose key is their only context: {"DB_PASSWORD": "x"}.
_SECRET_KEY = LazyPattern(_SECRET_NAME + r"\Z")
_NOT_LITERAL_VALUE = LazyPattern(r"[0-9]*\Z")


_REPLACERS = {}


def _replacer(kind, check):
    """The function that `sub` calls for each match of a rule (made once per rule)."""
    if (kind, check) in _REPLACERS:
        return _REPLACERS[kind, check]

    def replace(match):
        span = check(match)
        if span is None or "REDACTED:" in match.string[span[0]:span[1]]:
            return match.group()
        text, (start, end) = match.string, span
        return f"{text[match.start():start]}[REDACTED:{kind}]{text[end:match.end()]}"
    _REPLACERS[kind, check] = replace
    return replace


_TRIGGER = []


def _trigger():
    """The triggers of all rules as one expression, one branch per first character, and for
    each of its groups (one per trigger) the indexes of the rules it stands for. At one
    position only the first trigger that matches is reported, so a trigger also stands for
    the rules of the triggers after it on the same character."""
    if not _TRIGGER:
        by_char = {}
        for index, (_, _, triggers) in enumerate(REDACTIONS):
            for trigger in triggers:
                first = 2 if trigger[0] == "\\" else 1
                rests = by_char.setdefault(trigger[:first], {})
                rests.setdefault(trigger[first:], set()).add(index)
        branches, rules = [], [None]
        for char, rests in by_char.items():
            later = set()
            for stands_for in reversed(rests.values()):
                stands_for |= later
                later = stands_for
            rules += [frozenset(stands_for) for stands_for in rests.values()]
            branches.append(char + "(?:" + "|".join(f"(?:{rest})()" for rest in rests) + ")")
        _TRIGGER[:] = re.compile("|".join(branches)), rules
    return _TRIGGER


# --- a pre-filter for the trigger scan -------------------------------------------------------

# `re` stops at each character a trigger opens with (about one in ten in code) and spends a few
# hundred instructions there. With ahocorasick_rs (installed with the mlflow and databricks
# extras, so in every worker), one pass of a DFA in Rust finds instead the anchors, literals
# that every match of a rule contains, and so the lines where each rule can match
# (pyahocorasick, whose nodes search their children one by one, scans these thousand anchors
# slower than `re` scans the triggers). The anchors are read off the parsed form of a rule's
# triggers, or of its own regex where that gives longer ones (a trigger opens with a character
# that is rare for `re`, such as twine's `-p`; the rule holds `twine`), so they follow the rules.
# A letter in either case (`[kK]`), a digit (`[0-9]`), an alternative (`(?:live|test)`) or an
# optional item (`-?`) gives each of its spellings; a lookaround takes no characters, so the
# items around it are adjacent; and the characters before a repeat that may be absent still
# precede what follows it when the repeat ends with them (`-(?:[a-z]+-){0,3}token`: `-token`).
# Without the library (the vendored copy, `python3 -S`) the trigger scan runs on the whole
# text, with the same result.

# Letters that a case-insensitive `re` also matches as non-ASCII characters (ı, İ, K, ſ): under
# (?i) they end an anchor, as any non-ASCII character does.
_CASELESS_ODD = "iksIKS"
# An anchor stands for at most this many spellings (`[pP][aA][sS][sS]`: 16).
_ANCHOR_SPELLINGS = 64


def _spellings(op, value, caseless):
    """The few strings an item of a parsed pattern matches (a character of `[kK]`, `[0-9]`, an
    alternative of `(?:live|test)`, an optional `-?`), if it matches one of at most 16; else None."""
    from re import _constants as sre
    if op is sre.BRANCH:
        strings = set()
        for branch in value[1]:
            spellings = _concatenation(branch, caseless)
            if spellings is None:
                return None
            strings |= spellings
        return frozenset(strings) if 0 < len(strings) <= 16 and "" not in strings else None
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and value[:2] == (0, 1):
        spellings = _concatenation(value[2], caseless)
        return None if spellings is None or len(spellings) >= 16 else spellings | {""}
    items = [(op, value)] if op is sre.LITERAL else value if op is sre.IN else ()
    characters = set()
    for item_op, item in items:
        if item_op is sre.LITERAL:
            characters.add(chr(item))
        elif item_op is sre.RANGE and item[1] - item[0] < 16:
            characters.update(map(chr, range(item[0], item[1] + 1)))
        else:
            return None
    if caseless:
        if any(character in _CASELESS_ODD or not character.isascii() for character in characters):
            return None
        characters |= {character.swapcase() for character in characters}
    if not characters or "\n" in characters or len(characters) > 16:
        return None
    return frozenset(characters)


def _concatenation(items, caseless):
    """The strings a run of items matches, if each item matches one of a few and the run one
    of at most 16; else None."""
    spellings = {""}
    for item in items:
        options = _spellings(*item, caseless)
        if options is None:
            return None
        spellings = {spelling + option for spelling in spellings for option in options}
        if len(spellings) > 16:
            return None
    return frozenset(spellings)


def _spell(run):
    """The anchors of a run of items that each match one of a few strings: every spelling of
    its longest stretch that has at most _ANCHOR_SPELLINGS of them."""
    best, length = set(), 0
    for start in range(len(run)):
        spellings = {""}
        for options in run[start:]:
            if len(spellings) * len(options) > _ANCHOR_SPELLINGS:
                break
            spellings = {spelling + option for spelling in spellings for option in options}
            if (min(map(len, spellings)), -len(spellings)) > (length, -len(best)):
                best, length = spellings, min(map(len, spellings))
    return best or None


def _anchors(items, caseless=False):
    """Literals such that every match of the parsed pattern `items` contains one of them (the
    set whose shortest is longest), or None if none can be told."""
    from re import _constants as sre
    repeats, zero_width = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT), (sre.ASSERT, sre.ASSERT_NOT, sre.AT)
    found, run = [], []
    for op, value in items:
        options = _spellings(op, value, caseless)
        if options is not None:
            run.append(options)
            continue
        if op is sre.ASSERT:  # what a lookaround sees is on the line too
            found.append(_anchors(value[1], caseless))
        elif op is sre.BRANCH:
            branches = [_anchors(branch, caseless) for branch in value[1]]
            found.append(None if None in branches else set().union(*branches))
        if op in zero_width or op is sre.BRANCH and all(
                item_op in zero_width for branch in value[1] for item_op, _ in branch):
            continue  # it takes no characters: those before it and after it are adjacent
        if op in repeats:
            low, _, body = value
            first = body and _spellings(*body[0], caseless)
            last = body and _spellings(*body[-1], caseless)
            if low >= 1 and first and last:
                # The first repetition follows the run; the last one precedes what comes next.
                found.append(_spell(run + [first]))
                found.append(_anchors(body, caseless))
                run = [last]
                continue
            if low == 0 and run and last == run[-1]:
                # `-(?:[a-z]+-){0,3}token`: a `-` precedes `token` however many times it repeats.
                found.append(_spell(run))
                run = run[-1:]
                continue
        found.append(_spell(run))
        run = []
        if op is sre.SUBPATTERN:
            _, add, remove, inner = value
            found.append(_anchors(inner, bool((caseless or add & sre.SRE_FLAG_IGNORECASE)
                                              and not remove & sre.SRE_FLAG_IGNORECASE)))
        elif op in repeats and value[0] >= 1:
            found.append(_anchors(value[2], caseless))
        elif op is sre.ATOMIC_GROUP:
            found.append(_anchors(value, caseless))
    found.append(_spell(run))
    return max((anchors for anchors in found if anchors),
               key=lambda anchors: (min(map(len, anchors)), -len(anchors)), default=None)


def _trigger_anchors(trigger, flags=0):
    """The anchors of a trigger (or of a rule's regex): a line where it matches holds one of them."""
    from re import _parser
    return _anchors(_parser.parse(trigger, flags), bool(flags & re.IGNORECASE))


def _rule_anchors(rule):
    """The anchors of a rule: those of its triggers or those of its own regex, whichever are
    longer. A trigger opens with a rare character for `re`'s sake, so it may hold a short anchor
    (` -p`) where the rule holds a long one (`twine`); None if neither can be told."""
    _, regex, triggers = rule
    by_triggers = [_trigger_anchors(trigger) for trigger in triggers]
    by_triggers = None if None in by_triggers else set().union(*by_triggers)
    if by_triggers and min(map(len, by_triggers)) > 3:
        return by_triggers  # long enough: reading the regex too would cost the worker's start
    own = _trigger_anchors(regex.pattern, regex.flags)
    if by_triggers and (not own or min(map(len, own)) <= min(map(len, by_triggers))):
        return by_triggers
    return own


_PREFILTER = []


def _prefilter():
    """An Aho-Corasick automaton of every rule's anchors and, for each anchor in its order,
    the indexes of the rules it anchors, in order; None without ahocorasick_rs."""
    if not _PREFILTER:
        try:
            from re import _parser  # noqa: F401  Python 3.11+: the anchors are read with it

            import ahocorasick_rs
        except ImportError:
            _PREFILTER.append(None)
            return None
        rules = {}
        for index, rule in enumerate(REDACTIONS):
            anchors = _rule_anchors(rule)
            if anchors is None:  # a rule with no anchor: it must be looked for everywhere
                _PREFILTER.append(None)
                return None
            for anchor in anchors:
                rules.setdefault(anchor, set()).add(index)
        anchors = sorted(rules)
        # Over the text's UTF-8 bytes: over a str, ahocorasick_rs maps every byte to its
        # character first, which costs as much as the search.
        automaton = ahocorasick_rs.BytesAhoCorasick([anchor.encode() for anchor in anchors],
                                                    implementation=ahocorasick_rs.Implementation.DFA)
        _PREFILTER.append((automaton, [tuple(sorted(rules[anchor])) for anchor in anchors]))
    return _PREFILTER[0]


def _anchored_lines(text, prefilter):
    """What _triggered_lines returns, from the anchors that the pre-filter finds instead of the
    trigger scan: a rule runs on each line holding one of its anchors, a line where it may find
    nothing, but never misses one where it can match. None for a text that UTF-8 cannot hold (a
    lone surrogate, JSON's "\ud800"): the automaton reads UTF-8."""
    automaton, rules = prefilter
    try:
        raw = text.encode()
    except UnicodeEncodeError:
        return None
    lines, line_rules, end = [], [], -1
    # Every anchor, overlapping ones too: each says which rules to run.
    for anchor, at, _ in automaton.find_matches_as_indexes(raw, overlapping=True):
        if at > end:
            start, end = raw.rfind(b"\n", 0, at) + 1, raw.find(b"\n", at)
            end = len(raw) if end < 0 else end
            lines.append((start, end))
            line_rules.append(rules[anchor])
        elif rules[anchor] != line_rules[-1]:
            line_rules[-1] = _merged(line_rules[-1], rules[anchor])
    if lines and not text.isascii():
        lines = _character_spans(raw, lines)
    return lines, line_rules


def _character_spans(raw, lines):
    """The lines' (start, end) in bytes of `raw` as offsets in characters of the text it encodes.
    Each line starts after a newline and ends before one, where UTF-8 can be cut."""
    spans, byte, character = [], 0, 0
    for start, end in lines:
        character += len(raw[byte:start].decode())
        length = len(raw[start:end].decode())
        spans.append((character, character + length))
        byte, character = end, character + length
    return spans


def _merged(rules, more):
    """Two ordered tuples of rule indexes as one (remembered: a line's anchors overlap, as
    `pass` and `password` do, in a few ways)."""
    if (rules, more) not in _MERGED:
        _MERGED[rules, more] = tuple(sorted({*rules, *more}))
    return _MERGED[rules, more]


_MERGED = {}


def _triggered(text):
    """The indexes of the rules that can match in `text`."""
    trigger, rules = _trigger()
    found = set()
    match = trigger.search(text)
    while match:
        found |= rules[match.lastindex]
        # From the next character: a trigger may take more than one, and hide another.
        match = trigger.search(text, match.start() + 1)
    return found


def _triggered_lines(text):
    """The lines of `text` where a trigger matched (with the pre-filter, those that hold an
    anchor), each as (start, end) without its newline, and for each the indexes of the rules
    that can match on it, in order.
    A match of a rule (but of a private key's) lies on one line, as its trigger does."""
    if "\n" not in text:  # one line, such as a raw JSON line: nothing to cut
        triggered = _triggered(text)
        return ([(0, len(text))], [tuple(sorted(triggered))]) if triggered else ([], [])
    prefilter = _PREFILTER[0] if _PREFILTER else _prefilter()
    anchored = prefilter and _anchored_lines(text, prefilter)
    if anchored:
        return anchored
    trigger, rules = _trigger()
    lines, line_rules, end = [], [], -1
    match = trigger.search(text)
    while match:
        at = match.start()
        if at > end:
            start, end = text.rfind("\n", 0, at) + 1, text.find("\n", at)
            end = len(text) if end < 0 else end
            lines.append((start, end))
            line_rules.append(set())
        line_rules[-1] |= rules[match.lastindex]
        # From the next character: a trigger may take more than one, and hide another.
        match = trigger.search(text, at + 1)
    return lines, [tuple(sorted(found)) for found in line_rules]


# The rules whose matches span lines: a private key's. They come first in REDACTIONS, so the
# first of a line's rules (in order) says whether it has one.
_WHOLE_TEXT_RULES = frozenset(index for index, (kind, _, _) in enumerate(REDACTIONS) if kind == "private-key")
assert _WHOLE_TEXT_RULES == frozenset(range(len(_WHOLE_TEXT_RULES)))


class _Rules(dict):
    """A rule's `sub` and the function it calls for each match, by the rule's index."""

    def __missing__(self, index):
        kind, regex, _ = REDACTIONS[index]
        self[index] = regex.sub, _replacer(kind, regex.check or _secret_span)
        return self[index]


_RULES = _Rules()


def _retriggered(line, done):
    """A line that a rule changed, with the rules it now triggers that have not run on it (`done`)
    run in turn, until none changes it: a marker can complete a shape (`[REDACTED:github-token]: x`)."""
    while True:
        rules = _triggered(line) - done
        new = line
        for index in sorted(rules):
            sub, replace = _RULES[index]
            new = sub(replace, new)
        if new == line:
            return line
        line, done = new, done | rules


def _custom_span(match):
    """A user pattern's `secret` group (or whole match); unmatched redacts nothing."""
    group = "secret" if "secret" in match.re.groupindex else 0
    start, end = match.span(group)
    return None if start < 0 else (start, end)


def _custom(text, extra):
    """`text` with the matches of the user's patterns redacted."""
    for regex in extra:
        text = regex.sub(_replacer("custom", _custom_span), text)
    return text


def redact_text(text: str, extra=()) -> str:
    """Return `text` with every secret that REDACTIONS (then each compiled
    pattern in `extra`, as kind `custom`) recognises replaced by
    `[REDACTED:<kind>]`."""
    lines, line_rules = _triggered_lines(text)
    if lines:
        done = frozenset()
        if min(line_rules)[0] in _WHOLE_TEXT_RULES:
            # Private keys first, on the whole text: their matches span lines.
            redacted, done = text, _WHOLE_TEXT_RULES
            for index in sorted(done):
                sub, replace = _RULES[index]
                redacted = sub(replace, redacted)
            if redacted != text:
                text = redacted
                lines, line_rules = _triggered_lines(text)
        pieces, cut = [], 0
        for (start, end), rules in zip(lines, line_rules, strict=True):
            line = new = text[start:end]
            for index in rules:
                if index not in done:
                    sub, replace = _RULES[index]
                    new = sub(replace, new)
            if new != line:
                pieces += (text[cut:start], _retriggered(new, done.union(rules)))
                cut = end
        if pieces:
            pieces.append(text[cut:])
            text = "".join(pieces)
    return _custom(text, extra) if extra else text


# Strings already redacted, by text and user patterns: a transcript repeats long strings (a
# tool's output is in its record twice; 38 % of the recorded fixtures' long strings' text is a
# repeat). Forgotten all at once past _REDACTED_LIMIT characters, to bound the memory.
_REDACTED, _REDACTED_SIZE, _REDACTED_MIN, _REDACTED_LIMIT = {}, [0], 64, 4_000_000


def _redact_string(text, extra):
    """redact_text, remembered for long strings."""
    if len(text) < _REDACTED_MIN:
        return redact_text(text, extra)
    key = (text, *extra) if extra else text
    redacted = _REDACTED.get(key)
    if redacted is None:
        if _REDACTED_SIZE[0] > _REDACTED_LIMIT:
            _REDACTED.clear()
            _REDACTED_SIZE[0] = 0
        redacted = _REDACTED[key] = redact_text(text, extra)
        _REDACTED_SIZE[0] += len(text)
    return redacted


def redact_value(value, extra=()):
    """Return `value` with every string in it redacted, through dicts (values only; keys are
    kept), lists and tuples: a copy where anything changed, the value itself where nothing did.
    A string under a secret-looking key such as "DB_PASSWORD" is redacted whole."""
    # Most strings of a record are short and trigger nothing (ids, types, times), and many
    # repeat (a record type, a session id, a version): _CLEAN_SHORT remembers them, and the
    # loops look them up before any call. Not with user patterns, which may match them.
    return _walk(value, extra, {}.get if extra else _CLEAN_SHORT.get)


def _walk(value, extra, clean):
    """redact_value's walk; `clean(text)` is true for a text known to trigger nothing."""
    if isinstance(value, str):
        if clean(value):
            return value
        if len(value) < _REDACTED_MIN and not extra:
            if len(_CLEAN_SHORT) > 10_000:
                _CLEAN_SHORT.clear()
            if _CLEAN_SHORT.setdefault(value, _trigger()[0].search(value) is None):
                return value
        return _redact_string(value, extra)
    if isinstance(value, dict):
        redacted = None
        for key, item in value.items():
            if item.__class__ is str and clean(item) and _SECRET_KEYS.get(key) is False:
                continue
            new = _walk(item, extra, clean)
            if isinstance(new, str) and new and _secret_key(key) and not _NOT_LITERAL_VALUE.match(new) \
                    and not _stands_for_a_secret(new) and "[REDACTED:" not in new:
                new = "[REDACTED:env-secret]"
            if new is not item:
                if redacted is None:
                    redacted = dict(value)
                redacted[key] = new
        return value if redacted is None else redacted
    if isinstance(value, (list, tuple)):
        items = None
        for index, item in enumerate(value):
            if item.__class__ is str and clean(item):
                continue
            new = _walk(item, extra, clean)
            if new is not item:
                if items is None:
                    items = list(value)
                items[index] = new
        if items is None:
            return value
        return items if isinstance(value, list) else tuple(items)
    return value


# Short strings, by whether they trigger no rule.
_CLEAN_SHORT = {}


# Whether a dict key names a secret, by key: a transcript's keys are a few dozen words.
_SECRET_KEYS = {}


def _secret_key(key):
    if key not in _SECRET_KEYS:
        if len(_SECRET_KEYS) > 10_000:
            _SECRET_KEYS.clear()
        _SECRET_KEYS[key] = isinstance(key, str) and _SECRET_KEY.search(key) is not None
    return _SECRET_KEYS[key]


def compile_patterns(patterns: list[str]) -> list[re.Pattern]:
    """Compile user redaction patterns.
    Raises ValueError naming the first pattern that is invalid or that matches
    the empty string (which would put a marker between every character)."""
    compiled = []
    for pattern in patterns:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid redaction pattern {pattern!r}: {exc}") from None
        if regex.search(""):
            raise ValueError(f"redaction pattern {pattern!r} matches the empty string")
        compiled.append(regex)
    return compiled


###############################################################################
# Spool and hook: record that a turn ended, durably and fast
###############################################################################

def spool_dir():
    return private_dir(traces_home(), "spool")


def problem_path():
    return os.path.join(traces_home(), PROBLEM_FILE)


def pending_jobs():
    try:
        names = sorted(n for n in os.listdir(os.path.join(traces_home(), "spool")) if n.endswith(".json"))
    except OSError:
        return []
    return [os.path.join(traces_home(), "spool", n) for n in names]


def waiting_turns():
    """How many turns wait in the spool: its Stop jobs (at least 1 when it holds any job)."""
    jobs = [read_json_file(path) for path in pending_jobs()]
    stops = sum(isinstance(j, dict) and j.get("hook_event_name") == "Stop" for j in jobs)
    return stops or min(len(jobs), 1)


def record_problem(problem, fix):
    """Keep what stops waiting turns from uploading, for the SessionStart hook (NOTICE_COMMAND)
    to show in Claude Code and for `traces status`."""
    message = redact_text(f"claudetracing: {waiting_turns()} turn(s) waiting: {problem}. Fix: {fix}")
    try:
        private_dir(traces_home(), os.path.dirname(PROBLEM_FILE))
        write_atomic(problem_path(), json.dumps({"systemMessage": message}).encode())
    except OSError:
        pass


def clear_problem():
    try:
        os.remove(problem_path())
    except OSError:
        pass


def recorded_problem():
    """The recorded problem's text, or None."""
    notice = read_json_file(problem_path())
    message = notice.get("systemMessage") if isinstance(notice, dict) else None
    return message.removeprefix("claudetracing: ") if isinstance(message, str) else None


def write_job(job):
    spool = spool_dir()
    path = os.path.join(spool, f"{time.time_ns():020d}-{os.getpid()}.json")
    write_atomic(path, json.dumps(job).encode())
    return path


def job_from_hook_input(payload, environ, config):
    """The job for one hook call, or None for an input that is not Claude Code's. It holds no
    secret and no transcript content: the answer Stop reports is kept as a digest."""
    if not isinstance(payload, dict) or payload.get("hook_event_name") not in HOOK_EVENTS:
        return None
    session = payload.get("session_id")
    if not isinstance(session, str) or not session or "/" in session or session.startswith("."):
        return None
    keep = ("hook_event_name", "session_id", "transcript_path", "cwd", "agent_id", "agent_type",
            "agent_transcript_path", "reason", "turn_id")
    job = {k: payload[k] for k in keep if isinstance(payload.get(k), str)}
    if isinstance(payload.get("last_assistant_message"), str):
        job["answer"] = answer_digest(payload["last_assistant_message"])
    # How far the transcript had been written when the hook fired: the bytes this event can
    # vouch for (see trace_session).
    try:
        job["size"] = os.path.getsize(job["transcript_path"]) if job.get("transcript_path") else None
    except OSError:
        job["size"] = None
    job["project_dir"] = environ.get("CLAUDE_PROJECT_DIR") or job.get("cwd") or ""
    job["env"] = {**{k: environ[k] for k in JOB_ENV_KEYS if k in environ},
                  **{k: v for k, v in config.items() if k not in CREDENTIAL_KEYS + SECRET_ENV_KEYS + (ENV_HOOK,)}}
    job["time"] = time.time()
    return job


def python_problem(python):
    """Why the worker cannot be started with `python` (CLAUDETRACING_PYTHON), or None."""
    import shutil
    if shutil.which(python):
        return None
    what = "is not an executable file" if os.path.exists(python) else "does not exist"
    return f"{ENV_PYTHON}={python} {what}"


def probe_answer(config):
    """What init and status learn by running the hook command: which traces it reached, and
    whether the worker it starts can import mlflow, with the command that fixes it if not."""
    import importlib.util
    import shlex
    import subprocess
    python = os.environ.get(ENV_PYTHON) or sys.executable
    extra = BACKENDS[backend_kind(config.get(ENV_URI) or local_store_uri())]["extra"]
    answer = {"version": __version__, "python": sys.executable, "file": os.path.abspath(__file__),
              "traces_home": traces_home(), "worker": python}
    problem = python_problem(python) if python != sys.executable else None
    if problem:
        return {**answer, "mlflow": False, "problem": problem,
                "fix": f"point {ENV_PYTHON} at a Python that has mlflow (or unset it), then run `traces init`"}
    if python == sys.executable:
        # find_spec looks for mlflow without importing it (seconds).
        return {**answer, "mlflow": importlib.util.find_spec("mlflow") is not None, "fix": install_hint(extra, "init")}
    try:
        has = subprocess.run([python, "-c", "import importlib.util as u, sys; sys.exit(not u.find_spec('mlflow'))"],
                             capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        has = False
    packages = " ".join(shlex.quote(p) for p in EXTRAS[extra])
    return {**answer, "mlflow": has, "fix": f"{shlex.quote(python)} -m pip install {packages}"}


def worker_lock(blocking=False):
    """The worker's lock file descriptor, or None when another worker holds it."""
    import fcntl
    fd = os.open(os.path.join(private_dir(traces_home()), "worker.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def start_worker():
    """Start `traces sync` fully detached, unless a worker runs (it rescans the spool)."""
    fd = worker_lock()
    if fd is None:
        return
    os.close(fd)
    python = os.environ.get(ENV_PYTHON) or sys.executable
    null = os.devnull
    # posix_spawn with setsid: the worker outlives `claude -p` and is not killed with the
    # hook's process group; no subprocess import on the hook's path.
    try:
        os.posix_spawnp(python, [python, os.path.abspath(__file__), "sync", "--background"], dict(os.environ),
                        setsid=True, file_actions=[(os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0),
                                                   (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
                                                   (os.POSIX_SPAWN_OPEN, 2, null, os.O_WRONLY, 0)])
    except OSError as e:
        log(f"ERROR cannot start the worker with {python}: {e.strerror}")
        record_problem(f"the worker cannot start ({python_problem(python) or f'{python}: {e.strerror}'})",
                       f"point {ENV_PYTHON} at a Python that has mlflow (or unset it), then run `traces init`")


def hook(stdin_bytes, environ):
    """`traces hook`: must return quickly and never fail Claude Code (the caller exits 0)."""
    try:
        payload = json.loads(stdin_bytes or b"null")
    except ValueError:
        return
    cwd = payload.get("cwd") if isinstance(payload, dict) and isinstance(payload.get("cwd"), str) else ""
    config = hook_config(environ.get("CLAUDE_PROJECT_DIR") or cwd)
    for key in (ENV_HOME, ENV_PYTHON):      # where this machine keeps the spool, and its Python
        if config.get(key):
            os.environ[key] = config[key]
    if environ.get(ENV_PROBE) and isinstance(payload, dict) and payload.get("hook_event_name") == "ClaudetracingProbe":
        write_atomic(environ[ENV_PROBE], json.dumps(probe_answer(config)).encode())
        return
    agent = environ.get(ENV_AGENT) if environ.get(ENV_AGENT) in AGENTS else DEFAULT_AGENT
    if any(part["claims"](payload, environ) for name, part in AGENTS.items() if name != agent):
        return                  # another agent ran this hook (Copilot runs Claude Code's): its own hook records it
    payload = AGENTS[agent]["hook_input"](payload)
    event = payload.get("hook_event_name") if isinstance(payload, dict) else None
    if event in AGENTS[agent]["hook_events"]:         # the agent's own name for a Stop or SessionEnd
        payload = {**payload, "hook_event_name": AGENTS[agent]["hook_events"][event]}
    job = job_from_hook_input(payload, environ, config)
    job = job and AGENTS[agent]["hook_job"](job, cwd, environ)
    if job is None:
        return
    write_job(job)
    start_worker()



class BackendError(TracesError):
    """The backend did not take a trace: the job stays in the spool and is retried."""


def session_lock(session):
    """Held while a session's turns are uploaded, so the worker and `import` never race."""
    import fcntl
    fd = os.open(os.path.join(private_dir(traces_home(), "state"), session + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def state_path(session):
    return os.path.join(private_dir(traces_home(), "state"), session + ".json")


###############################################################################
# MLflow export: one trace per turn
###############################################################################

def need_mlflow():
    try:
        import mlflow
    except ImportError:
        raise MissingExtra("mlflow", "mlflow") from None
    # MLflow sets its loggers up when imported; its notes about creating tables are not ours to show.
    import logging
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return mlflow


def quiet_mlflow():
    """MLflow's defaults suit a notebook, not a background worker (set before import)."""
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")   # export errors must surface
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")         # else minutes per dead request
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")


def open_store(uri):
    """An MlflowClient for uri. The first use of a local SQLite store creates its tables,
    which two processes (the worker and `traces search`, say) must not do at the same time."""
    from mlflow import MlflowClient
    if backend_kind(uri) != "local":
        return MlflowClient(uri)
    import fcntl
    fd = os.open(os.path.join(private_dir(traces_home()), "store.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        client = MlflowClient(uri)          # creating the client creates the tables
        client.search_experiments(max_results=1)
        # It holds transcripts' content: private to the user, whatever the umask said.
        path = uri.split(":///", 1)[-1]
        for name in (path, path + "-wal", path + "-shm", path + "-journal"):
            if os.path.exists(name) and os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)
    finally:
        os.close(fd)
    return client


EXPORTED = {}    # backend variables put into os.environ here, with the value each replaced
ACTIVE = {}      # the Uploader MLflow's process-wide settings point at


def export_backend_env(env):
    """MLflow and databricks-sdk read tokens, profiles and hosts from the environment only.
    What an earlier call put there for another backend and env does not name is undone."""
    for key in [k for k in EXPORTED if k not in env]:
        before = EXPORTED.pop(key)
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before
    for key, value in env.items():
        if key.startswith(("MLFLOW_", "DATABRICKS_")):
            EXPORTED.setdefault(key, os.environ.get(key))
            os.environ[key] = value


def ns(seconds):
    return int(seconds * 1_000_000_000)


def unwritten_path():
    """The journal of an import's batch not written yet (Uploader.begin_batches)."""
    return os.path.join(private_dir(traces_home(), "state"), "import-unwritten.json")


def recover_unwritten(uploader):
    """A killed import left a batch unwritten: its traces may be partly written (removed here),
    and its sessions' checkpoints count turns as uploaded that are not. Those checkpoints are
    forgotten: the sessions are read again, and each turn is found by its turn tag or uploaded."""
    import fcntl
    path = unwritten_path()
    if not os.path.exists(path):
        return
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return                  # that import is still running
        journal = read_json_file(path, {})
        if journal.get("uri") != uploader.uri or journal.get("experiment") != uploader.experiment():
            return                  # another backend's: its own uploader recovers it
        for trace_id in journal.get("traces", []):
            try:
                trace = uploader.client.get_trace(trace_id, display=False)
            except Exception:  # noqa: BLE001 - not there: nothing to remove
                continue
            if TAG_TURN not in trace.info.tags or not trace.data.spans:
                uploader.remove(trace_id)
        for session in journal.get("sessions", []):
            lock = session_lock(session)
            try:
                if os.path.exists(state_path(session)):
                    os.remove(state_path(session))
            finally:
                os.close(lock)
        log(f"an import was stopped before {len(journal.get('sessions', []))} session(s) were written: "
            "they are read again")
        os.remove(path)
    finally:
        os.close(fd)


def like_escape(text):
    """Quote a value for a filter string. LIKE wildcards in it only widen the match, and every
    filter is checked again locally, so they need no escaping."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


def payload_limit(env):
    try:
        return max(1000, int(env.get(ENV_MAX_PAYLOAD) or DEFAULT_MAX_PAYLOAD))
    except ValueError:
        return DEFAULT_MAX_PAYLOAD     # a typo must not cost a turn


def redactor(env):
    """The redaction this repository asked for, as a function over any JSON-like value."""
    if env.get(ENV_REDACT, "on") == "off":
        return lambda value: value
    try:
        extra = compile_patterns(custom_patterns(env))
    except ValueError as e:
        log(f"ERROR custom redaction pattern ignored: {e}")
        extra = []
    return lambda value: redact_value(value, extra)


def dump_attribute(value):
    """A span attribute's value as MLflow's tracing API stores it."""
    from mlflow.tracing.utils import dump_span_attribute_value
    return dump_span_attribute_value(value)


def tool_attributes(step):
    """A command's exit code, where the agent records one (Codex does; Claude Code's results
    say it in their text)."""
    meta = step.get("meta")
    code = meta.get("exit_code") if isinstance(meta, dict) else None
    return {"claudetracing.exit_code": code} if isinstance(code, int) and not isinstance(code, bool) else None


def llm_attributes(step):
    usage = step["usage"]
    attributes = {"mlflow.llm.model": step["model"] or "", "mlflow.chat.tokenUsage": {
        "input_tokens": usage["input"], "output_tokens": usage["output"], "total_tokens": usage["total"],
        "cache_read_input_tokens": usage["cache_read"],
        "cache_creation_input_tokens": usage["cache_creation"],
        "cache_creation_input_tokens_above_1hr": usage["cache_creation_1h"]}}
    attributes.update(step.get("attributes") or {})
    if step.get("cost") is not None:
        out = cost_of(step["price_model"], {**empty_usage(), "output": usage["output"]},
                      step.get("speed"), step.get("geo"), step["start"], step.get("provider"))
        attributes["mlflow.llm.cost"] = {"input_cost": step["cost"] - out, "output_cost": out,
                                         "total_cost": step["cost"]}
    return attributes


class TraceBuilder:
    """A turn record → its trace as plain data: tags, metadata and spans (dicts in the shape
    of MLflow's Span.to_dict), redacted and cut to the payload limit. It reads no store and
    writes nothing; the Uploader makes MLflow's entities of them and writes those."""

    def __init__(self, env):
        self.redact = redactor(env)
        self.limit = payload_limit(env)
        self._user = None

    def user(self):
        if self._user is None:
            import getpass
            self._user = run(["git", "config", "user.email"]) or getpass.getuser()
        return self._user

    def clean(self, value):
        """Redact, then cut to the payload limit with a marker saying how much was cut."""
        value = self.redact(value)
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        if len(text) <= self.limit:
            return value
        return text[:self.limit] + f"\n…[truncated by claudetracing: {len(text) - self.limit} of {len(text)} characters cut]"

    def previews(self, turn):
        """The request and response previews MLflow shows in its trace list."""
        return str(self.redact(turn["prompt"]))[:1000], str(self.redact(turn["answer"]))[:1000]

    def describe(self, turn, context):
        """The trace's tags and metadata."""
        cwd = context.get("cwd") or turn["meta"].get("cwd") or ""
        enrich_context = {"cwd": cwd, "root": repo_root(cwd) if os.path.isdir(cwd) else cwd}
        tags = {TAG_TOOLS: json.dumps(turn["tool_counts"], sort_keys=True), TAG_TOOL_ERRORS: str(turn["tool_errors"]),
                TAG_VERSION: __version__, TAG_STATUS: "interrupted" if turn["interrupted"] else
                "error" if turn["tool_errors"] else "ok", TAG_AGENT: turn.get("agent", DEFAULT_AGENT)}
        if turn.get("command"):
            tags[TAG_COMMAND] = turn["command"]
        turn["git_branch"] = turn["meta"].get("git_branch")
        for name in enabled_enrichments(context.get("env") or {}):
            tags.update(ENRICHMENTS[name]["compute"](turn, enrich_context))
        if turn["waiting"]:
            tags["claudetracing.unfinished_agents"] = str(len(turn["waiting"]))
        tags = {k: str(self.redact(v))[:TAG_VALUE_LIMIT] for k, v in tags.items()}
        metadata = {"mlflow.trace.session": turn["session"], "mlflow.trace.user": self.user(),
                    "claudetracing.cwd": cwd, "claudetracing.claude_code_version": turn["meta"].get("version", ""),
                    "claudetracing.models": ",".join(m for m in turn["models"] if m),
                    # MLflow fills these from the worker's own process; the turn's are what matter.
                    "mlflow.source.name": AGENTS[turn.get("agent", DEFAULT_AGENT)]["source_name"],
                    "mlflow.source.type": "LOCAL",
                    "mlflow.source.git.commit": tags.get("git.commit_id", ""),
                    "mlflow.source.git.branch": tags.get("git.branch", ""),
                    "mlflow.source.git.repoURL": tags.get("git.remote_url", "")}
        if turn.get("parent_session"):
            metadata[META_PARENT] = turn["parent_session"]    # the session a /clear ended
        if turn.get("forked_from"):
            metadata[META_FORKED_FROM] = turn["forked_from"]  # the session --fork-session copied
        return tags, metadata

    # The spans are what MLflow's tracing API would have made of the same calls (attributes
    # included), so that a trace written whole reads like one written span by span.

    def spans(self, turn, trace_id, experiment_id):
        """The turn's spans, the root first, ids drawn at random."""
        spans = []
        root = self._span(spans, trace_id, None, AGENTS[turn.get("agent", DEFAULT_AGENT)]["root_span"], "AGENT",
                          turn["start"], {"prompt": turn["prompt"]}, experiment_id=experiment_id)
        self._children(spans, trace_id, root, turn, turn["start"], turn["end"])
        self._end(root, {"response": turn["answer"]}, turn["end"])
        return spans

    def _children(self, spans, trace_id, parent, turn, lo, hi):
        for step in turn["steps"]:
            start = min(max(step["start"], lo), hi)
            end = min(max(step["end"] or start, start), hi)
            if step["kind"] == "llm":
                span = self._span(spans, trace_id, parent, step.get("name", "llm"), "LLM", start,
                                  {"messages": step["inputs"]}, llm_attributes(step))
                self._end(span, {"content": step["content"]}, end)
                continue
            span = self._span(spans, trace_id, parent, f"tool_{step['name']}", "TOOL", start, step["input"],
                              tool_attributes(step))
            sub = step.get("subagent")
            if sub:
                agent = self._span(spans, trace_id, span, f"subagent_{sub['type']}", "AGENT", start,
                                   {"prompt": sub["prompt"]}, {"claudetracing.agent_id": sub["agent_id"]})
                self._children(spans, trace_id, agent, sub, start, end)
                self._end(agent, {"response": sub["answer"]}, min(max(sub["end"], start), end))
            self._end(span, {"result": step["result"]}, end, error=step["error"])

    def _span(self, spans, trace_id, parent, name, kind, start, inputs, attributes=None, experiment_id=None):
        """A span under construction (a dict), appended to spans; its end is set by _end."""
        import random
        attrs = {"mlflow.spanStartTimeNs": json.dumps(ns(start))}
        if parent is None:
            attrs["mlflow.experimentId"] = json.dumps(experiment_id)
        attrs["mlflow.traceRequestId"] = json.dumps(trace_id)
        attrs["mlflow.spanType"] = json.dumps(kind)
        attrs["mlflow.spanInputs"] = dump_attribute(self.clean(inputs))
        for key, value in (attributes or {}).items():
            attrs[key] = dump_attribute(value)
        span = {"trace_id": trace_id, "span_id": f"{random.getrandbits(64) or 1:016x}",
                "parent_span_id": parent and parent["span_id"], "name": name, "start_time_unix_nano": ns(start),
                "end_time_unix_nano": None, "events": [], "status": {"code": "STATUS_CODE_OK", "message": ""},
                "attributes": attrs, "links": []}
        spans.append(span)
        return span

    def _end(self, span, outputs, end, error=False):
        span["attributes"]["mlflow.spanOutputs"] = dump_attribute(self.clean(outputs))
        span["attributes"]["mlflow.spanLogLevel"] = "20"       # INFO, MLflow's level for these span types
        span["end_time_unix_nano"] = ns(end)
        if error:
            span["status"]["code"] = "STATUS_CODE_ERROR"


class TracingStore:
    """MLflow's private API, all in one place: the tracking store behind a client, which
    writes whole traces (start_trace, then log_spans) and says a server's version, and the
    in-memory trace of a span-by-span upload, whose previews we set."""

    def __init__(self, client):
        self.store = client._tracing_client.store

    def server_version(self):
        return self.store._get_server_version(self.store.get_host_creds())

    def write(self, experiment_id, traces):
        for trace in traces:
            self.store.start_trace(trace.info)
        self.store.log_spans(experiment_id, [span for trace in traces for span in trace.data.spans])

    @staticmethod
    def set_previews(trace_id, request, response):
        try:
            from mlflow.tracing.trace_manager import InMemoryTraceManager
        except ImportError:
            return
        with InMemoryTraceManager.get_instance().get_trace(trace_id) as trace:
            if trace is not None:
                trace.info.request_preview, trace.info.response_preview = request, response


class Uploader:
    """Writes turns as traces into one backend and experiment: it points MLflow there, makes
    MLflow's entities of what TraceBuilder built, batches and journals writes (import)."""

    def __init__(self, env):
        self.env = env
        export_backend_env(env)
        quiet_mlflow()
        self.mlflow = need_mlflow()
        self.uri = env.get(ENV_URI) or local_store_uri()
        self.experiment_name = env.get(ENV_EXPERIMENT)
        self.experiment_id = env.get(ENV_EXPERIMENT_ID)
        self.trace_location = env.get(ENV_TRACE_LOCATION)
        self.location_set = False
        self.activate()
        try:
            self.client = open_store(self.uri)
        except Exception as e:  # noqa: BLE001 - a store we cannot open now may open later
            raise BackendError(f"cannot open {self.uri}: {short_error(e)}") from None
        self.builder = TraceBuilder(env)
        self._env = self._whole = None
        self.batch = None       # traces built but not written yet (begin_batches), else None
        recover_unwritten(self)

    def describe(self):
        return f"{self.uri} (experiment {self.experiment_name or self.experiment_id})"

    def activate(self):
        """MLflow's tracking URI, credentials and trace destination are process-wide; a warm
        worker serves every repository on the machine, so each session's uploads first point
        them here (when another backend had them)."""
        if ACTIVE.get("uploader") is not self:
            export_backend_env(self.env)
            self.mlflow.set_tracking_uri(self.uri)
            self.location_set = False
            ACTIVE["uploader"] = self

    def experiment(self):
        if not self.experiment_id:
            self.experiment_id = self._experiment_by_name()
        if self.trace_location and not self.location_set:
            try:
                use_trace_location(self.experiment_id, self.trace_location)
            except Exception as e:  # noqa: BLE001
                raise BackendError(f"cannot send traces to {self.trace_location}: {short_error(e)}") from None
            self.location_set = True        # MLflow keeps the destination until the tracking URI changes
        return self.experiment_id

    def _experiment_by_name(self):
        name = self.experiment_name or "claude-code"
        try:
            found = self.client.get_experiment_by_name(name)
            if found is None:
                # Local store: artifacts under TRACES_HOME, never ./mlruns in someone's repository.
                location = None
                if backend_kind(self.uri) == "local":
                    location = "file://" + private_dir(traces_home(), "artifacts")
                return self.client.create_experiment(name, artifact_location=location)
            return found.experiment_id
        except Exception as e:  # noqa: BLE001 - any MLflow failure means: retry later
            raise BackendError(f"cannot open experiment {name!r} at {self.uri}: {short_error(e)}") from None

    def session_turns(self, session):
        """{turn id: trace id} of a session's traces (uploads are idempotent): one search a
        session, where one a turn costs a backfill of thousands of sessions minutes."""
        location = self.experiment()          # raises its own BackendError
        found, token = {}, None
        try:
            while True:
                batch = self.client.search_traces(
                    locations=[location], filter_string=f"tags.`{TAG_TURN}` LIKE '{like_escape(session)}:%'",
                    max_results=500, page_token=token, include_spans=False)
                found.update((t.info.tags[TAG_TURN], t.info.trace_id) for t in batch
                             if t.info.tags.get(TAG_TURN, "").startswith(session + ":"))
                token = batch.token
                if not token or not batch:
                    return found
        except Exception as e:  # noqa: BLE001
            raise BackendError(f"cannot search {self.uri}: {short_error(e)}") from None

    def settle(self, inflight):
        """A worker died mid-upload: keep its trace if it was finished (and drop the one it
        replaces), else delete the remains. True when the trace was kept."""
        try:
            trace = self.client.get_trace(inflight["trace"], display=False)
        except Exception:  # noqa: BLE001 - not there, or there without its spans (it does not load)
            trace = None
        if trace is None or trace.info.tags.get(TAG_TURN) != inflight["turn"] or not trace.data.spans:
            self.remove(inflight["trace"])
            return False
        if inflight.get("replaces"):
            self.remove(inflight["replaces"])
        return True

    def remove(self, trace_id):
        try:
            self.client.delete_traces(self.experiment(), trace_ids=[trace_id])
        except Exception as e:  # noqa: BLE001
            raise BackendError(f"cannot remove trace {trace_id}: {short_error(e)}") from None

    def upload(self, turn, context, started):
        """Write one turn as a trace; return its id. started(trace_id) is called before
        anything is written (write_trace checkpoints it: see settle)."""
        tags, metadata = self.builder.describe(turn, context)
        if not self.whole_traces():
            return self._upload_live(turn, tags, metadata, started)
        try:
            trace, size = self._build(turn, tags, metadata)
        except Exception as e:  # noqa: BLE001
            raise BackendError(f"cannot build the trace of {turn['id']}: {short_error(e)}") from None
        started(trace.info.trace_id)
        if self.batch is None:
            self._write([trace])
        else:
            self._defer(trace, turn["session"], size)
        return trace.info.trace_id

    def whole_traces(self):
        """Whole traces need the store's span upload: the local store, or a server from MLflow
        3.4 on. Databricks (and Unity Catalog destinations) keep MLflow's tracing API."""
        if self._whole is None:
            self._whole = False
            if backend_kind(self.uri) == "local":
                self._whole = True
            elif is_http(self.uri) and not self.trace_location:
                from packaging.version import Version
                try:
                    version = TracingStore(self.client).server_version()
                except Exception:  # noqa: BLE001 - unknown: the tracing API works with any
                    version = None
                self._whole = version is not None and version >= Version("3.4")
        return self._whole

    def _upload_live(self, turn, tags, metadata, started):
        """Span by span through MLflow's tracing API, each span a write of its own: for
        Databricks, and servers older than MLflow 3.4 (no span upload)."""
        mlflow = self.mlflow
        try:
            root = mlflow.start_span_no_context(
                AGENTS[turn.get("agent", DEFAULT_AGENT)]["root_span"], span_type="AGENT", inputs=self.builder.clean({"prompt": turn["prompt"]}), tags=tags,
                metadata=metadata, experiment_id=self.experiment(), start_time_ns=ns(turn["start"]))
            trace_id = root.trace_id
            started(trace_id)
            TracingStore.set_previews(trace_id, *self.builder.previews(turn))
            self._children(root, turn, turn["start"], turn["end"])
            root.end(outputs=self.builder.clean({"response": turn["answer"]}), end_time_ns=ns(turn["end"]))
            stored = self.client.get_trace(trace_id, display=False)
            if stored is None or len(stored.data.spans) < 1:
                raise BackendError("the trace was not stored")
            # The turn tag goes on last: a trace without it is a partial upload (see settle).
            self.client.set_trace_tag(trace_id, TAG_TURN, turn["id"])
        except BackendError:
            raise
        except Exception as e:  # noqa: BLE001 - whatever MLflow raised, the job is retried
            raise BackendError(f"upload to {self.uri} failed: {short_error(e)}") from None
        return trace_id

    def _children(self, parent, turn, lo, hi):
        mlflow, clean = self.mlflow, self.builder.clean
        for step in turn["steps"]:
            start = min(max(step["start"], lo), hi)
            end = min(max(step["end"] or start, start), hi)
            if step["kind"] == "llm":
                attributes = llm_attributes(step)
                span = mlflow.start_span_no_context(step.get("name", "llm"), span_type="LLM", parent_span=parent,
                                                    inputs=clean({"messages": step["inputs"]}),
                                                    attributes=attributes, start_time_ns=ns(start))
                span.end(outputs=clean({"content": step["content"]}), end_time_ns=ns(end))
                continue
            span = mlflow.start_span_no_context(f"tool_{step['name']}", span_type="TOOL", parent_span=parent,
                                                inputs=clean(step["input"]), start_time_ns=ns(start),
                                                attributes=tool_attributes(step))
            sub = step.get("subagent")
            if sub:
                agent = mlflow.start_span_no_context(
                    f"subagent_{sub['type']}", span_type="AGENT", parent_span=span,
                    inputs=clean({"prompt": sub["prompt"]}), start_time_ns=ns(start),
                    attributes={"claudetracing.agent_id": sub["agent_id"]})
                self._children(agent, sub, start, end)
                agent.end(outputs=clean({"response": sub["answer"]}),
                          end_time_ns=ns(min(max(sub["end"], start), end)))
            span.end(outputs=clean({"result": step["result"]}), status="ERROR" if step["error"] else "OK",
                     end_time_ns=ns(end))

    # Whole traces: the trace is made here of TraceBuilder's spans, with what MLflow's tracing
    # API would have added (metadata, previews, size statistics), then written in one go
    # through the tracking store: the trace's info, which carries the turn tag, then
    # its spans in one upload (one transaction on SQLite, one OTLP request to a server) with
    # those of the other traces of a batch. A trace without its turn tag or without spans is
    # a partial upload (see settle).

    def _build(self, turn, tags, metadata):
        """The turn as an MLflow Trace, nothing written yet, and the characters its spans hold;
        the turn tag is added after the size statistics, as it was set after them when traces
        were written span by span."""
        import random

        from mlflow.entities import Span, Trace, TraceData, TraceInfo, TraceLocation, TraceState
        from mlflow.tracing import constant
        from mlflow.tracing.utils import add_size_stats_to_trace_metadata, aggregate_usage_from_spans
        trace_id = f"tr-{random.getrandbits(128) or 1:032x}"
        raw = self.builder.spans(turn, trace_id, self.experiment())
        root, size = raw[0], sum(len(v) for span in raw for v in span["attributes"].values())
        spans = [Span.from_dict(span) for span in raw]

        def head(value):
            if len(value) <= constant.MAX_CHARS_IN_TRACE_INFO_METADATA:
                return value
            return value[:constant.MAX_CHARS_IN_TRACE_INFO_METADATA - len(constant.TRUNCATION_SUFFIX)] + \
                constant.TRUNCATION_SUFFIX
        metadata = {**self._env_metadata(), constant.TRACE_SCHEMA_VERSION_KEY: str(constant.TRACE_SCHEMA_VERSION),
                    **metadata, constant.TraceMetadataKey.INPUTS: head(root["attributes"]["mlflow.spanInputs"]),
                    constant.TraceMetadataKey.OUTPUTS: head(root["attributes"]["mlflow.spanOutputs"])}
        usage = aggregate_usage_from_spans(spans)
        if usage:
            metadata[constant.TraceMetadataKey.TOKEN_USAGE] = json.dumps(usage)
        start, end = root["start_time_unix_nano"], root["end_time_unix_nano"]
        info = TraceInfo(trace_id=trace_id, trace_location=TraceLocation.from_experiment_id(self.experiment()),
                         request_time=start // 1_000_000, execution_duration=(end - start) // 1_000_000,
                         state=TraceState.OK, trace_metadata=metadata,
                         tags={constant.TraceTagKey.TRACE_NAME: root["name"], **tags})
        info.request_preview, info.response_preview = self.builder.previews(turn)
        trace = Trace(info=info, data=TraceData(spans=spans))
        add_size_stats_to_trace_metadata(trace)
        info.tags[TAG_TURN] = turn["id"]
        return trace, size

    def _env_metadata(self):
        if self._env is None:
            from mlflow.tracing.utils.environment import resolve_env_metadata
            self._env = resolve_env_metadata()
        return self._env

    def begin_batches(self):
        """From now on traces are written in batches (import): call flush() at the end.
        Until a batch is written, a journal names its sessions (and then its traces), so that
        the next Uploader undoes what a killed import left (recover_unwritten)."""
        import fcntl
        self.journal_fd = os.open(unwritten_path() + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.journal_fd, fcntl.LOCK_EX)
        self.batch, self.batch_sessions, self.batch_chars = [], set(), 0

    def end_batches(self):
        """Stop batching; what was not flushed stays in the journal for recover_unwritten."""
        os.close(self.journal_fd)
        self.batch = None

    def _defer(self, trace, session, size):
        self.batch.append(trace)
        if session not in self.batch_sessions:
            self.batch_sessions.add(session)
            self._journal()
        self.batch_chars += size
        if len(self.batch) >= IMPORT_BATCH_TRACES or self.batch_chars >= IMPORT_BATCH_CHARS:
            self.flush()

    def _journal(self, traces=()):
        write_atomic(unwritten_path(), json.dumps({"uri": self.uri, "experiment": self.experiment(),
                                                   "sessions": sorted(self.batch_sessions),
                                                   "traces": list(traces)}).encode())

    def flush(self):
        """Write the traces built so far (import)."""
        if not self.batch:
            return
        self._journal([trace.info.trace_id for trace in self.batch])
        self._write(self.batch)
        os.remove(unwritten_path())
        self.batch, self.batch_sessions, self.batch_chars = [], set(), 0

    def _write(self, batch):
        """Each trace's info (with its turn tag), then the spans of all in one upload. Infos
        first: the store takes a new trace's info in one insert, and one that spans created
        first through a slow merge. A trace whose spans are missing is settled (removed)."""
        try:
            TracingStore(self.client).write(self.experiment(), batch)
        except Exception as e:  # noqa: BLE001 - whatever MLflow raised, the job is retried
            raise BackendError(f"upload to {self.uri} failed: {short_error(e)}") from None


###############################################################################
# Worker: spool → turns → traces, with per-session checkpoints
###############################################################################

# -- spend: the summary the status line and budgets read, and the budgets' verdicts -------

# The worker counts a turn's cost when it has read the finished turn, before it uploads it:
# a turn waiting in the spool for a backend that is down is spent all the same. A turn is
# counted once (sessions keep each turn's cost, so a re-read replaces it). Kept small: days,
# weeks, branches and sessions beyond these are dropped.
SUMMARY_DAYS = 40
SUMMARY_WEEKS = 10
SUMMARY_SESSIONS = 200
SUMMARY_SESSION_DAYS = 8
SUMMARY_BRANCHES = 100
SUMMARY_TURNS_HOURS = 24    # a session quiet this long keeps its total, not each turn's cost
BUDGET_SCOPES = {"session": "this session", "day": "today", "week": "this week", "branch": "this branch"}
BUDGET_WARN_AT = 80         # percent of a budget from which the hook warns


def dollars(value):
    """Cents where they matter; tenths of a cent for the small sums of a short session."""
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


def summary_path():
    return os.path.join(traces_home(), SUMMARY_FILE)


def read_summary():
    summary = read_json_file(summary_path())
    if not isinstance(summary, dict):
        summary = {}
    for key in ("projects", "sessions"):
        if not isinstance(summary.get(key), dict):
            summary[key] = {}
    return summary


def summary_lock():
    """Held while the summary is read, changed and written (the worker and `traces budget`)."""
    import fcntl
    fd = os.open(os.path.join(private_dir(traces_home(), "state"), "summary.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def day_keys(when):
    """The local day and ISO week a time falls in, as the summary names them."""
    local = time.localtime(when)
    return time.strftime("%Y-%m-%d", local), time.strftime("%G-W%V", local)


def git_head_branch(folder):
    """The branch checked out in folder, read from .git/HEAD (no git process: the status line
    runs on every screen update); "" when it is not a branch."""
    git = os.path.join(folder, ".git")
    try:
        if os.path.isfile(git):         # a worktree or submodule: .git names the real folder
            with open(git, encoding="utf-8") as f:
                git = os.path.join(folder, f.read().strip().removeprefix("gitdir: "))
        with open(os.path.join(git, "HEAD"), encoding="utf-8") as f:
            head = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return head.removeprefix("ref: refs/heads/") if head.startswith("ref: refs/heads/") else ""


def prune_summary(summary, now):
    """Keep the summary small: recent days, weeks and sessions, the branches last spent on."""
    oldest_day = day_keys(now - SUMMARY_DAYS * 86400)[0]
    for project in summary["projects"].values():
        project["days"] = {d: v for d, v in project["days"].items() if d >= oldest_day}
        project["weeks"] = dict(sorted(project["weeks"].items())[-SUMMARY_WEEKS:])
        project["branches"] = dict(sorted(project["branches"].items(), key=lambda kv: kv[1][1])[-SUMMARY_BRANCHES:])
    recent = [(s, e) for s, e in summary["sessions"].items() if e["last"] > now - SUMMARY_SESSION_DAYS * 86400]
    summary["sessions"] = dict(sorted(recent, key=lambda se: se[1]["last"])[-SUMMARY_SESSIONS:])
    for entry in summary["sessions"].values():
        if entry["turns"] and entry["last"] < now - SUMMARY_TURNS_HOURS * 3600:
            entry["usd"] = entry.get("usd", 0.0) + sum(entry["turns"].values())
            entry["count"] = entry.get("count", 0) + len(entry["turns"])
            entry["turns"] = {}


def add_spend(summary, session, project, turn, now):
    """Count one finished turn in the summary; False when it was counted already as it is."""
    usd = turn["cost"] or 0.0
    entry = summary["sessions"].setdefault(session, {"project": project, "turns": {}, "last": now})
    key = turn["id"].rpartition(":")[2]
    if key in entry["turns"] and abs(entry["turns"][key] - usd) < 1e-9:
        return False
    delta = usd - entry["turns"].get(key, 0.0)
    branch = turn["meta"].get("git_branch") or git_head_branch(project)
    entry.update(project=project, branch=branch, last=now)
    entry["turns"][key] = usd
    spent = summary["projects"].setdefault(project, {"days": {}, "weeks": {}, "branches": {}, "agents": {}})
    day, week = day_keys(turn.get("end") or now)
    spent["days"][day] = spent["days"].get(day, 0.0) + delta
    spent["weeks"][week] = spent["weeks"].get(week, 0.0) + delta
    if branch:
        spent["branches"][branch] = [spent["branches"].get(branch, [0.0])[0] + delta, now]
    agent = turn.get("agent", DEFAULT_AGENT)
    spent["agents"][agent] = spent["agents"].get(agent, 0.0) + delta
    prune_summary(summary, now)
    return True


def spend_of(summary, project, session, branch, now):
    """What a session of a project has spent, by budget scope."""
    spent = summary["projects"].get(project) or {"days": {}, "weeks": {}, "branches": {}}
    day, week = day_keys(now)
    entry = summary["sessions"].get(session) or {}
    return {"session": entry.get("usd", 0.0) + sum(entry.get("turns", {}).values()), "day": spent["days"].get(day, 0.0),
            "week": spent["weeks"].get(week, 0.0), "branch": spent["branches"].get(branch, [0.0])[0]}


def budget_problem(budget):
    """What is wrong with a `budget` entry of our files, or None."""
    if not isinstance(budget, dict):
        return '"budget" must be an object'
    for key, value in budget.items():
        if key in (*BUDGET_SCOPES, "warn_at") and (isinstance(value, bool) or not isinstance(value, (int, float))
                                                   or value <= 0):
            return f'"budget.{key}" must be a positive number'
        if key == "block" and not isinstance(value, bool):
            return f'"budget.{key}" must be true or false'
    return None


def project_budget(project):
    """A project's budgets: the team's (.claude/traces.json), this machine's entries over them."""
    budget = {}
    for name in (CONFIG_FILE, LOCAL_CONFIG_FILE):
        found = (read_json_file(os.path.join(project, name)) or {})
        found = found.get("budget") if isinstance(found, dict) else None
        if isinstance(found, dict) and not budget_problem(found):
            budget.update(found)
    return budget


def budget_verdict(budget, spent):
    """(level, message) for a session's spend against its budgets: level "block" at 100 % with
    --block, "warn" from the warn threshold, None below it. The message names the worst budget."""
    worst = None
    for scope, label in BUDGET_SCOPES.items():
        limit = budget.get(scope)
        if limit:
            share = spent[scope] / limit * 100
            if worst is None or share > worst[0]:
                worst = (share, scope, label, limit)
    if worst is None or worst[0] < budget.get("warn_at", BUDGET_WARN_AT):
        return None, None
    share, scope, label, limit = worst
    said = f"claudetracing: {label} has spent {dollars(spent[scope])} of its {dollars(limit)} {scope} budget ({share:.0f} %)"
    if share >= 100 and budget.get("block"):
        return "block", (f"{said}; this prompt was not sent. Raise it (`traces budget set --{scope} "
                         f"{dollars(max(limit * 2, spent[scope] * 1.5))[1:]}`) or lift the limits (`traces budget off`).")
    return "warn", said + "."


def verdict_json(level, message):
    if level == "block":
        return {"decision": "block", "reason": message}
    return {"systemMessage": message}


def read_file_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def sync_files(folder, wanted, stale):
    """Write the files of wanted ({name: bytes}) that differ; remove those stale(name) says. The
    folder is made only when there is something to write (most repositories have no budget)."""
    if not os.path.isdir(folder):
        if not wanted:
            return
        private_dir(folder)
    for name in os.listdir(folder):
        if name.endswith(".json") and name not in wanted and stale(name):
            os.remove(os.path.join(folder, name))
    for name, data in wanted.items():
        if read_file_bytes(os.path.join(folder, name)) != data:
            write_atomic(os.path.join(folder, name), data)


def write_verdicts(summary, project, now):
    """Rewrite the hook's files for a project: <session>.<day>.json for each of its sessions, and
    projects/<project path>/<day>.json for a session not counted yet (the hook finds it from
    CLAUDE_PROJECT_DIR with no process to start), for today and tomorrow (a day budget lifts at
    midnight even when no turn comes to recount it). Files no longer meant are removed."""
    budget = project_budget(project)
    folder = os.path.join(traces_home(), BUDGET_DIR)
    own = os.path.join(folder, "projects" + os.path.abspath(project))
    head = git_head_branch(project)
    sessions = {s: e.get("branch") or head for s, e in summary["sessions"].items() if e.get("project") == project}
    theirs, ours, today = {}, {}, day_keys(now)[0]
    for when in (now, now + 86400):
        day = day_keys(when)[0]
        for session, branch in [(None, head), *sessions.items()]:
            level, message = budget_verdict(budget, spend_of(summary, project, session, branch, when))
            if level and session is None:
                ours[f"{day}.json"] = json.dumps(verdict_json(level, message)).encode()
            elif level:
                theirs[f"{session}.{day}.json"] = json.dumps(verdict_json(level, message)).encode()
    sync_files(own, ours, lambda name: True)
    sync_files(folder, theirs, lambda name: name.split(".")[0] in sessions or name.split(".")[-2] < today)


def note_trouble(reason):
    """Keep why turns wait (a backend that is down) for the status line; None: nothing waits."""
    reason = reason and redact_text(reason)
    fd = summary_lock()
    try:
        summary = read_summary()
        if summary.get("trouble") != reason:
            summary.pop("trouble", None)
            summary.update({"trouble": reason} if reason else {})
            write_atomic(summary_path(), json.dumps(summary).encode())
    finally:
        os.close(fd)


def count_spend(session, project, turn):
    """Count a finished turn in the summary, and bring the project's budget verdicts up to date."""
    fd = summary_lock()
    try:
        summary, now = read_summary(), time.time()
        try:
            changed = add_spend(summary, session, project, turn, now)
        except (KeyError, TypeError, AttributeError, ValueError):
            # Never let the summary stop a turn's upload: begun afresh, it counts from here.
            log("ERROR the spend summary was malformed: begun afresh")
            summary = {"projects": {}, "sessions": {}}
            changed = add_spend(summary, session, project, turn, now)
        if changed:
            write_atomic(summary_path(), json.dumps(summary).encode())
            write_verdicts(summary, project, now)
    finally:
        os.close(fd)


# -- turns: read, upload, checkpoint ------------------------------------------------------

def session_state(session, transcript):
    state = read_json_file(state_path(session), None) or {}
    if state.get("transcript") != transcript:
        state = {"transcript": transcript, "offset": 0, "done": state.get("done", [])}
    state.setdefault("vouched", 0)      # turns starting before this offset have ended
    state.setdefault("ended", 0)        # ... and their process is gone (SessionEnd)
    state.setdefault("open", {})        # uploaded turns no prompt follows yet: {id: {trace, end, sig}}
    return state


def vouch(state, job, size):
    """Record what a Stop or SessionEnd job vouches for: the turns written when its hook fired
    had ended, and after SessionEnd no more lines come (Claude Code's rule of when a turn is
    over says more; every agent's `finished` reads it)."""
    event = job.get("hook_event_name")
    if event not in ("Stop", "SessionEnd"):
        return
    at = job.get("size")
    at = at if isinstance(at, int) and not isinstance(at, bool) else size    # jobs of 0.7.0 did not say
    state["vouched"] = max(state["vouched"], at)
    if event == "SessionEnd":
        state["ended"] = max(state["ended"], at)
    else:
        state["stop"] = {"size": at, "answer": job.get("answer") or job.get("last_assistant_message") or ""}


def turn_signature(turn):
    """What a re-read must change for a trace to be replaced (not a new bookkeeping line). The
    checkpoint keeps it: the answer goes in as a digest, no transcript text."""
    return [len(turn["steps"]), turn["usage"]["total"], answer_digest(turn["answer"])["sha256"], len(turn["waiting"]),
            turn["interrupted"]]


def forget_done(state, read):
    """Keep in `done` only the turns from the checkpoint on: those before it are not read again
    (a checkpoint begun afresh asks the backend instead: uploaded_before), and a list of all
    the session's turns would be rewritten with each new one. read: (turn id, offset) of the
    turns read."""
    done = set(state["done"])
    state["done"] = [turn_id for turn_id, offset in read if offset >= state["offset"] and turn_id in done]


def uploaded_before(session, uploader, state, turn_id):
    """Is a turn the checkpoint does not list in the backend already? Only a checkpoint begun
    afresh (a new session, or one whose checkpoint was lost) can miss uploads: the backend is
    asked once for it, and the turns it held are kept in the checkpoint (`found`) until they
    are read; a turn of a long session then costs no search of the session's traces."""
    if "found" not in state:
        state["found"] = sorted(set(uploader.session_turns(session)) - set(state["done"]))
    if turn_id not in state["found"]:
        return False
    state["found"].remove(turn_id)
    return True


def save_state(session, state):
    write_atomic(state_path(session), json.dumps(state).encode())


def settle_inflight(session, uploader, state):
    """A worker died while it uploaded a turn (write_trace): settle what it left. A trace it
    finished is in the backend, and the checkpoint's `found` (uploaded_before) says so."""
    inflight = state.pop("inflight", None)
    if inflight:
        if uploader.settle(inflight) and "found" in state:
            state["found"].append(inflight["turn"])
        save_state(session, state)


def write_trace(session, state, uploader, turn, context, replaces=None):
    """Upload one turn, or replace its earlier trace. While it is in flight the checkpoint
    names the new trace (and the one it replaces), so that a killed worker's remains are
    settled by the next run (Uploader.settle)."""
    def started(trace_id):
        save_state(session, {**state, "inflight": {"turn": turn["id"], "trace": trace_id, "replaces": replaces}})
    trace_id = uploader.upload(turn, context, started)
    if replaces:
        uploader.remove(replaces)
        log(f"{session}: replaced the trace of a turn that went on after it was uploaded")
    return trace_id


def upload_turns(session, uploader, state, agent, reading, context):
    """Upload the finished turns among those read from the checkpoint, replace the traces of
    turns that changed since; move the checkpoint to the first turn that may still change."""
    turns, end, turn_record = reading
    written, held, still_open, rereads = 0, 0, {}, []
    for i, raw in enumerate(turns):
        closed = i + 1 < len(turns)
        extent = turns[i + 1]["offset"] if closed else end
        turn_id = raw["id"]
        record = state["open"].get(turn_id)
        if not (turn_id in state["done"] and (record is None or extent <= record["end"])):
            turn = turn_record(i)
            if not agent["finished"](turn, raw["offset"], closed, state):
                rereads.append(raw["offset"])       # waits for its Stop, or for its agents' reports
                if record is not None:
                    still_open[turn_id] = record
                else:
                    held += 1
                continue
            agent["settle"](session, state, turn)
            signature = turn_signature(turn)
            if context.get("project") and not turn["copied_from"]:
                count_spend(session, context["project"], turn)     # before the upload, which may fail
            if turn["copied_from"]:
                pass                                # --fork-session copied it: traced in its own session
            elif record is None and uploaded_before(session, uploader, state, turn_id):
                pass                                # uploaded before the checkpoint was lost
            elif record is None or signature != record["sig"]:
                trace_id = write_trace(session, state, uploader, turn, context, record and record["trace"])
                record, written = {"trace": trace_id, "end": extent, "sig": signature}, written + 1
            else:
                record = {**record, "end": extent}
            if turn_id not in state["done"]:
                state["done"].append(turn_id)
            save_state(session, {**state, "open": {**state["open"], turn_id: record}})
        if not closed and record is not None:
            still_open[turn_id] = record            # the last turn: lines may still arrive for it
            rereads.append(raw["offset"])
    state.update(open=still_open, offset=min(rereads, default=end), held=held)
    agent["tidy"](session, state)
    forget_done(state, [(raw["id"], raw["offset"]) for raw in turns])
    return written


def trace_session(session, path, uploader, jobs=(), final=False, context=None, quiet_for=None, agent=DEFAULT_AGENT):
    """Upload the finished turns of an agent's session file, and replace traces that lines
    arriving later completed; return how many traces were written.

    jobs: the session's spool jobs in the order their hooks fired. final: the session is over
    (tests, old transcripts). quiet_for: import takes a file unchanged for this many seconds
    as over, and otherwise its last turn as finished if it looks so.
    """
    fd = session_lock(session)
    try:
        state = session_state(session, path)
        settle_inflight(session, uploader, state)
        size = os.path.getsize(path)
        if quiet_for is not None:
            quiet = time.time() - os.path.getmtime(path) > quiet_for
            jobs = [*jobs, {"hook_event_name": "SessionEnd" if quiet else "Stop", "size": size}]
        for job in [*jobs, {"hook_event_name": "SessionEnd", "size": size}] if final else jobs:
            vouch(state, job, size)
        reading = AGENTS[agent]["read"](session, path, state, jobs)
        written = upload_turns(session, uploader, state, AGENTS[agent], reading, context or {})
        save_state(session, state)
        return written
    finally:
        os.close(fd)


def transcript_allowed(path, top):
    """A hook input names the session's file; only files under the agent's own sessions folder
    (top) are read."""
    real = os.path.realpath(path)
    return real.endswith(".jsonl") and inside(real, os.path.realpath(top))


def job_agent(jobs):
    """The agent whose hook wrote a session's jobs."""
    return next((j["agent"] for j in reversed(jobs) if j.get("agent") in AGENTS), DEFAULT_AGENT)


def load_job(path):
    job = read_json_file(path)
    if not isinstance(job, dict) or not isinstance(job.get("session_id"), str):
        log(f"ERROR unreadable job {os.path.basename(path)}: set aside as .bad")
        os.replace(path, path + ".bad")
        return None
    return job


def job_transcript(jobs):
    """The transcript a session's jobs point at (the hook input can leave it empty)."""
    for job in reversed(jobs):
        if job.get("transcript_path"):
            return job["transcript_path"]
    cwd = next((j.get("cwd") for j in reversed(jobs) if j.get("cwd")), "")
    return os.path.join(project_folder(cwd), jobs[-1]["session_id"] + ".jsonl") if cwd else ""


REFUSED = re.compile(r"\b40[13]\b|unauthori[sz]ed|unauthenticated|permission.denied|forbidden|invalid.*token", re.I)


def user_problem(error, env):
    """(what is wrong, the command that fixes it) when waiting turns upload only once the user
    acts; None for a failure that retrying may cure (a server that is down)."""
    text = str(error)
    uri = env.get(ENV_URI) or local_store_uri()
    if isinstance(error, MissingExtra):
        return f"the worker's Python ({sys.executable}) has no {error.package}", install_hint(error.extra, "init")
    if REFUSED.search(text):
        return text, BACKENDS[backend_kind(uri)]["refused"](uri, env)
    if backend_kind(uri) == "local" and text.startswith("cannot open "):
        return text, "traces status"
    return None


def trace_jobs(session, jobs, env, uploaders):
    """Trace what a session's jobs point at; False when the jobs must wait for another pass."""
    transcript, agent = job_transcript(jobs), job_agent(jobs)
    sessions = AGENTS[agent]["sessions_dir"](jobs)
    if transcript and not os.path.isfile(transcript) and \
            time.time() < max(j.get("time", 0) for j in jobs) + STOP_CATCH_UP_SECONDS:
        # Claude Code can run a session's first Stop before it has created the file.
        log(f"{session}: waiting for the transcript to appear")
        return False
    if not transcript or not os.path.isfile(transcript):
        log(f"{session}: transcript not found; nothing to trace")
    elif not transcript_allowed(transcript, sessions):
        log(f"ERROR {session}: refused a transcript outside {sessions}")
    elif max((j["size"] for j in jobs if isinstance(j.get("size"), int)), default=0) > os.path.getsize(transcript):
        # Claude Code only appends: a shorter file is being replaced. Its jobs wait.
        log(f"{session}: the transcript is shorter than when its hook ran; trying again")
        return False
    else:
        key = json.dumps(sorted(env.items()))
        if key not in uploaders:
            uploaders[key] = Uploader(env)
        uploaders[key].activate()
        cwd = next((j.get("cwd") for j in reversed(jobs) if j.get("cwd")), "")
        context = {"cwd": cwd, "env": env, "project": jobs[-1].get("project_dir") or cwd}
        n = trace_session(session, transcript, uploaders[key], jobs, context=context, agent=agent)
        if n:
            log(f"{session}: uploaded {n} turn(s)")
    return True


def drain_spool(uploaders):
    """Process every job in the spool once; True when nothing failed. uploaders: one per
    backend settings, kept by the caller so that a warm worker reuses its connections."""
    by_session = {}
    for path in pending_jobs():
        job = load_job(path)
        if job is not None:
            by_session.setdefault(job["session_id"], []).append((path, job))
    for agent in AGENTS.values():
        agent["note_jobs"]([job for items in by_session.values() for _, job in items])
    ok, problem, done, trouble = True, None, False, None
    for session, items in by_session.items():
        jobs = [job for _, job in items]
        env = jobs[-1].get("env") or {}
        env = {**env, **job_credentials(jobs[-1].get("project_dir"), env.get(ENV_URI) or local_store_uri())}
        log(f"{session}: {len(jobs)} job(s): {', '.join(str(j.get('hook_event_name')) for j in jobs)}")
        try:
            if not trace_jobs(session, jobs, env, uploaders):
                ok = False
                continue
        except (BackendError, TracesError) as e:
            log(f"ERROR {session}: {e}")
            ok, problem, trouble = False, problem or user_problem(e, env), trouble or str(e)
            continue
        except Exception as e:  # noqa: BLE001 - one session's surprise must not stall the others
            log(f"ERROR {session}: unexpected {short_error(e)}; its jobs stay in the spool")
            ok = False
            continue
        for path, _ in items:
            os.remove(path)
        done = True
    if problem:
        record_problem(*problem)
    elif done:
        clear_problem()
    if by_session:
        note_trouble(trouble)
    return ok


class in_traces_home:
    """Work from TRACES_HOME: MLflow may create ./mlruns for a local store, and that must
    never land in the user's repository. The previous folder is restored afterwards."""

    def __enter__(self):
        self.previous = os.getcwd()
        os.chdir(usable_home())

    def __exit__(self, *exc):
        os.chdir(self.previous)


###############################################################################
# The terminal: text from a trace is shown, never obeyed
###############################################################################

# A prompt, an answer, a tool's output, a file or branch name, an experiment name, an error a
# server sent: text from a model or a repository may hold escape sequences that set the window
# title, clear the screen, hide a link or write the clipboard (OSC 52), or bidirectional
# overrides that show text in another order than it is. All a command prints passes
# terminal_safe on its way out: main() puts a TerminalStream over stdout and stderr, so no
# command can forget it. `-f json` stays exact: it has no raw C0 controls, and the form used
# for the others (`\u009b`) is JSON's own escape.
TERMINAL_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def escaped_control(match):
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x20 else f"\\u{code:04x}"


def terminal_safe(text):
    """text with C0 controls but newline and tab, DEL, C1 controls and bidirectional overrides
    written out (`\\x1b`, `\\u202e`); the text around them unchanged. Most text holds none,
    and a search costs less than a substitution that finds nothing."""
    return TERMINAL_UNSAFE.sub(escaped_control, text) if TERMINAL_UNSAFE.search(text) else text


class TerminalStream:
    """stdout or stderr while a command runs: what is written to it passes terminal_safe. Our
    own control characters (Painter's colours, the progress bar's carriage return) are written
    right after `key`, drawn at random for each run so that no text from a trace can guess it,
    and only they pass unescaped."""

    def __init__(self, stream):
        self.stream = stream
        self.key = os.urandom(8).hex()

    def write(self, text):
        safe = terminal_safe(text)
        if safe is not text and self.key in safe:
            safe = safe.replace(self.key + "\\x1b", "\033").replace(self.key + "\\x0d", "\r")
        return self.stream.write(safe)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):        # flush, isatty, fileno, encoding: the stream's own
        return getattr(self.stream, name)


def own_control(stream, char):
    """char written to stream as ours: through a TerminalStream, behind its key."""
    return getattr(stream, "key", "") + char


###############################################################################
# Reading back: the stores, the backend, search filters and output formats
###############################################################################

class Painter:
    """ANSI colour when writing to a terminal and NO_COLOR is unset."""

    def __init__(self, stream):
        self.on = stream.isatty() and not os.environ.get("NO_COLOR")
        self.csi = own_control(stream, "\033") + "["

    def _wrap(self, code, text):
        return f"{self.csi}{code}m{text}{self.csi}0m" if self.on else text

    def bold(self, text):
        return self._wrap("1", text)

    def dim(self, text):
        return self._wrap("2", text)

    def ok(self, text):
        return self._wrap("32", text)

    def bad(self, text):
        return self._wrap("31", text)

    def accent(self, text):
        return self._wrap("36", text)



# Reading happens in a terminal, in the repository whose traces we want: the backend and the
# experiment come from that repository's Claude Code settings (what its hooks wrote with),
# then from the shell's environment, then the local store and the repository's default name.

SEARCH_FORMATS = {}
META_SESSION = "mlflow.trace.session"
META_USER = "mlflow.trace.user"
META_MODELS = "claudetracing.models"


def search_format(name, needs_spans=False, per_turn=False):
    """Register an output format of `traces search`; spans are fetched only for those that need
    them; a format that shows turn by turn (per_turn) names each turn's agent unless all are Claude Code's."""
    def register(fn):
        SEARCH_FORMATS[name] = {"render": fn, "needs_spans": needs_spans, "per_turn": per_turn}
        return fn
    return register


# The local store is read with the standard library where it has the tables and columns this
# reader reads (checked by name, not by MLflow's schema version: stores of MLflow 3.10 to 3.18
# all have them): `traces search` then answers in tens of milliseconds instead of seconds spent
# importing mlflow. A store without them, and anything this reader does not know (a filter,
# spans kept as artifacts), goes through mlflow.
SQLITE_READS = {
    "experiments": ("experiment_id", "name", "lifecycle_stage"),
    "trace_info": ("request_id", "experiment_id", "timestamp_ms", "execution_time_ms", "status",
                   "request_preview", "response_preview"),
    "trace_tags": ("request_id", "key", "value"),
    "trace_request_metadata": ("request_id", "key", "value"),
    "spans": ("trace_id", "content"),
}
# From MLflow 3.17 (schema 75868b020152) a trace's name, session, token usage and cost are kept
# in trace_info columns, and given back as a tag and metadata (trace_analytics.py); before it,
# as rows of the key-value tables like any other.
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens",
                 "cache_creation_input_tokens", "cache_creation_input_tokens_above_1hr")
COST_COLUMNS = ("input_cost", "output_cost", "total_cost")
ANALYTICS_COLUMNS = ("trace_name", "session_id") + TOKEN_COLUMNS + COST_COLUMNS
ANALYTICS_KEYS = ("mlflow.traceName", META_SESSION)     # read from those columns whatever a command reads
FILTER_CLAUSE = re.compile(r"trace\.timestamp_ms (>=|<) (\d+)|(tags|metadata)\.`([^`]+)` (=|LIKE) '((?:[^'\\]|\\.)*)'")


def error_code(error):
    return str(getattr(error, "error_code", ""))


def not_found(error):
    return error_code(error) == "RESOURCE_DOES_NOT_EXIST"


class NotFound(Exception):
    error_code = "RESOURCE_DOES_NOT_EXIST"


class Page(list):
    """One page of search results, with the token of the next (None: the last)."""
    token = None


def span_record(data):
    """A span as MLflow's Span shows it, from the JSON a store row holds (OpenTelemetry ids in
    base64, attribute values JSON-encoded)."""
    import base64
    from types import SimpleNamespace

    def hex_id(value):
        return base64.b64decode(value).hex() if value else None

    attributes = {}
    for key, value in (data.get("attributes") or {}).items():
        try:
            attributes[key] = json.loads(value)
        except (TypeError, ValueError):
            attributes[key] = value
    code = (data.get("status") or {}).get("code") or "STATUS_CODE_UNSET"
    return SimpleNamespace(
        span_id=hex_id(data.get("span_id")), parent_id=hex_id(data.get("parent_span_id")), name=data.get("name"),
        span_type=attributes.get("mlflow.spanType"), start_time_ns=data.get("start_time_unix_nano"),
        end_time_ns=data.get("end_time_unix_nano"), inputs=attributes.get("mlflow.spanInputs"),
        outputs=attributes.get("mlflow.spanOutputs"), attributes=attributes,
        status=SimpleNamespace(status_code=code.replace("STATUS_CODE_", "")))


def sqlite_layout(db):
    """Whether a store keeps MLflow 3.17's trace_info columns (ANALYTICS_COLUMNS); LookupError,
    saying why, when it lacks a table or column this reader reads (sqlite3.Error when it is no
    SQLite database: mlflow then says so)."""
    found = {}
    for table, column in db.execute("SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c "
                                    f"WHERE m.type = 'table' AND m.name IN ({','.join('?' * len(SQLITE_READS))})",
                                    list(SQLITE_READS)):
        found.setdefault(table, set()).add(column)
    for table, columns in SQLITE_READS.items():
        if table not in found:
            raise LookupError(f"it has no {table} table")
        missing = [c for c in columns if c not in found[table]]
        if missing:
            raise LookupError(f"its {table} table has no column {', '.join(missing)}")
    kept = [c for c in ANALYTICS_COLUMNS if c in found["trace_info"]]
    if kept and len(kept) < len(ANALYTICS_COLUMNS):
        missing = [c for c in ANALYTICS_COLUMNS if c not in kept]
        raise LookupError(f"its trace_info table has {kept[0]} but no column {', '.join(missing)}")
    return bool(kept)


class LocalStore:
    """The part of MlflowClient the reading commands use, over a local store's SQLite file."""

    def __init__(self, path, uri):
        import sqlite3
        self.uri = uri
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            self.analytics = sqlite_layout(self.db)     # name, session, usage and cost in columns
        except (LookupError, sqlite3.Error):
            self.db.close()
            raise
        self._mlflow = None
        self.keys = None        # the only tag and metadata keys the command reads (None: all of them)

    # No server between us and the file: a page as large as MLflow allows (50,000), as OFFSET
    # paging sorts the experiment again for every page.
    page_limit = 50_000
    scan_from = 1000     # traces from which one pass over a key-value table beats an index probe each

    def mlflow(self):
        """The real client, for what this reader does not do."""
        if self._mlflow is None:
            quiet_mlflow()
            need_mlflow()
            self._mlflow = open_store(self.uri)
        return self._mlflow

    def _experiments(self, where, *args):
        from types import SimpleNamespace
        rows = self.db.execute("SELECT experiment_id, name, lifecycle_stage FROM experiments " + where, args).fetchall()
        return [SimpleNamespace(experiment_id=str(i), name=n, lifecycle_stage=stage) for i, n, stage in rows]

    def get_experiment_by_name(self, name):
        found = self._experiments("WHERE name = ?", name)
        return found[0] if found else None

    def get_experiment(self, experiment_id):
        found = self._experiments("WHERE experiment_id = ?", experiment_id) if str(experiment_id).isdigit() else []
        if not found:
            raise NotFound(f"no experiment {experiment_id}")
        return found[0]

    def search_experiments(self, max_results=None):
        return self._experiments("WHERE lifecycle_stage = 'active' ORDER BY experiment_id")

    def search_traces(self, locations, filter_string=None, max_results=100, order_by=None, page_token=None,
                      include_spans=False):
        clauses = (filter_string or "").split(" AND ") if filter_string else []
        where, args = ["t.experiment_id IN (%s)" % ",".join("?" * len(locations))], [int(e) for e in locations]
        for clause in clauses:
            match = FILTER_CLAUSE.fullmatch(clause)
            if not match or order_by not in (None, ["timestamp_ms DESC"]) or include_spans:
                return self.mlflow().search_traces(locations=locations, filter_string=filter_string,
                                                   max_results=max_results, order_by=order_by,
                                                   page_token=page_token, include_spans=include_spans)
            bound, when, kind, key, op, value = match.groups()
            if bound:
                where.append(f"t.timestamp_ms {bound} ?")
                args.append(int(when))
                continue
            value = re.sub(r"\\(.)", r"\1", value)
            if kind == "metadata" and key == META_SESSION and self.analytics:
                where.append(f"t.session_id {op} ?")
                args.append(value)
            else:
                table = "trace_tags" if kind == "tags" else "trace_request_metadata"
                where.append(f"EXISTS (SELECT 1 FROM {table} x WHERE x.request_id = t.request_id "
                             f"AND x.key = ? AND x.value {op} ?)")
                args += [key, value]
        offset = int(page_token or 0)
        rows = self.db.execute(
            "SELECT * FROM trace_info t WHERE " + " AND ".join(where)
            + " ORDER BY t.timestamp_ms DESC, t.request_id LIMIT ? OFFSET ?", args + [max_results, offset])
        page = Page(self._traces(rows))
        page.token = str(offset + max_results) if len(page) == max_results else None
        return page

    def _traces(self, cursor):
        """Trace records (info only) as MLflow builds them from trace_info rows (the columns
        sqlite_layout checked)."""
        from types import SimpleNamespace
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        tags = {row["request_id"]: {} for row in rows}
        metadata = {row["request_id"]: {} for row in rows}
        in_columns = self.analytics
        for table, into, skip in (("trace_tags", tags, ("mlflow.traceName",)),
                                  ("trace_request_metadata", metadata,
                                   (META_SESSION, "mlflow.trace.tokenUsage", "mlflow.trace.cost"))):
            for request_id, key, value in self._pairs(table, list(tags)):
                found = into.get(request_id)
                if found is not None and not (in_columns and key in skip):
                    found[key] = value
        # MLflow's own usage and cost, kept in columns: built only for a command that reads them.
        usage_and_cost = in_columns and self.keys is None
        traces = []
        for row in rows:
            trace_id = row["request_id"]
            if in_columns and row["trace_name"] is not None:
                tags[trace_id]["mlflow.traceName"] = row["trace_name"]
            if in_columns and row["session_id"] is not None:
                metadata[trace_id][META_SESSION] = row["session_id"]
            if usage_and_cost:
                usage = {c: int(row[c]) for c in TOKEN_COLUMNS if row[c] is not None}
                if usage:
                    metadata[trace_id]["mlflow.trace.tokenUsage"] = json.dumps(usage)
                cost = {c: row[c] for c in COST_COLUMNS if row[c] is not None}
                if cost:
                    metadata[trace_id]["mlflow.trace.cost"] = json.dumps(cost)
            info = SimpleNamespace(
                trace_id=trace_id, experiment_id=str(row["experiment_id"]), request_time=row["timestamp_ms"],
                execution_duration=row["execution_time_ms"], state=row["status"],
                request_preview=row["request_preview"], response_preview=row["response_preview"],
                tags=tags[trace_id], trace_metadata=metadata[trace_id])
            traces.append(SimpleNamespace(info=info, data=SimpleNamespace(spans=[])))
        return traces

    def _pairs(self, table, ids):
        """(trace id, key, value) of these traces, from one of the key-value tables."""
        keys = None if self.keys is None else self.keys + (() if self.analytics else ANALYTICS_KEYS)
        if keys is not None and len(ids) >= self.scan_from:
            marks = ",".join("?" * len(keys))
            yield from self.db.execute(f"SELECT request_id, key, value FROM {table} NOT INDEXED "
                                       f"WHERE key IN ({marks})", list(keys))
            return
        only = "" if keys is None else f" AND key IN ({','.join('?' * len(keys))})"
        for start in range(0, len(ids), 500):
            batch = ids[start:start + 500]
            yield from self.db.execute(f"SELECT request_id, key, value FROM {table} WHERE request_id IN "
                                       f"({','.join('?' * len(batch))}){only}", batch + list(keys or ()))

    def get_trace(self, trace_id, display=False):
        [trace] = self._traces(self.db.execute("SELECT * FROM trace_info t WHERE t.request_id = ?", (trace_id,))) or [None]
        if trace is None:
            raise NotFound(f"no trace {trace_id}")
        if trace.info.tags.get("mlflow.trace.spansLocation") != "TRACKING_STORE":
            return self.mlflow().get_trace(trace_id, display=False)      # spans kept as an artifact
        rows = self.db.execute("SELECT content FROM spans WHERE trace_id = ?", (trace_id,)).fetchall()
        trace.data.spans = [span_record(json.loads(content)) for content, in rows]
        return trace


def mlflow_rest(uri, method, endpoint, env, body=None, timeout=10, version="2.0", refused=None):
    """Call MLflow's REST API with the standard library (init and the reading commands do
    without mlflow): (HTTP status, answer). `refused`: the error when the server turns our
    credentials down (HTTP 401/403), if it is not to ask for MLFLOW_TRACKING_TOKEN."""
    import base64
    import urllib.error
    import urllib.parse
    import urllib.request
    url = f"{uri.rstrip('/')}/api/{version}/mlflow/{endpoint}"
    headers = {"Content-Type": "application/json"}
    if env.get(ENV_TOKEN):
        headers["Authorization"] = "Bearer " + env[ENV_TOKEN]
    elif env.get(ENV_USERNAME):
        pair = f"{env[ENV_USERNAME]}:{env.get(ENV_PASSWORD, '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    # A web server that is not MLflow (a typo in the port, a proxy's page) answers 404 or an
    # HTML page where MLflow answers JSON: say so, rather than "experiment not found".
    not_mlflow = f"{uri} answers but is not an MLflow server (HTTP {{}} on {urllib.parse.urlsplit(url).path})"
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
        try:
            return status, json.loads(raw or b"{}")
        except ValueError:
            raise TracesError(not_mlflow.format(status)) from None
    except urllib.error.HTTPError as e:
        try:
            payload = json.loads(e.read() or b"{}")
        except ValueError:
            payload = {}
        if e.code in (401, 403):
            raise TracesError(refused or f"the MLflow server at {uri} refused our credentials (HTTP {e.code}); "
                              f"set {ENV_TOKEN} (or user:password in the URL) and run init again") from None
        if e.code in (404, 405, 501) and not (isinstance(payload, dict) and payload.get("error_code")):
            raise TracesError(not_mlflow.format(e.code)) from None
        return e.code, payload
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise TracesError(f"cannot reach the MLflow server at {uri} ({reason}); is it running?") from None


def check_server(uri, env):
    """An error unless the MLflow server at uri answers: asked before anything is written for it."""
    status, body = mlflow_rest(uri, "POST", "experiments/search", env, {"max_results": 1})
    if status != 200:
        raise TracesError(f"{uri} does not answer like an MLflow server (HTTP {status}: {body.get('message', '')})")


def trace_info_record(data):
    """A TraceInfo as MLflow's client shows it, from the REST API's JSON (v3)."""
    import calendar
    from decimal import Decimal
    from types import SimpleNamespace
    # Protobuf's JSON time: UTC, "Z", 0 to 9 decimals.
    whole, _, fraction = data["request_time"].rstrip("Z").partition(".")
    start_ms = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) * 1000 + int((fraction + "000")[:3])
    duration = data.get("execution_duration")
    return SimpleNamespace(
        trace_id=data["trace_id"], experiment_id=data["trace_location"]["mlflow_experiment"]["experiment_id"],
        request_time=start_ms,
        execution_duration=int(Decimal(duration.rstrip("s")) * 1000) if duration else None, state=data.get("state"),
        request_preview=data.get("request_preview"), response_preview=data.get("response_preview"),
        tags=data.get("tags") or {}, trace_metadata=data.get("trace_metadata") or {})


def otlp_value(value):
    """An OpenTelemetry AnyValue (JSON form) as the Python value it holds."""
    if "kvlist_value" in value:
        return {kv["key"]: otlp_value(kv.get("value", {})) for kv in value["kvlist_value"].get("values", [])}
    if "array_value" in value:
        return [otlp_value(v) for v in value["array_value"].get("values", [])]
    if "int_value" in value:
        return int(value["int_value"])
    if "double_value" in value:
        return float(value["double_value"])
    for kind in ("string_value", "bool_value", "bytes_value"):
        if kind in value:
            return value[kind]
    return None


def otlp_span_record(data):
    """A span of the REST API's trace (OpenTelemetry's JSON) as MLflow's Span shows it."""
    record = span_record({**data, "attributes": {}})
    record.attributes = {kv["key"]: otlp_value(kv.get("value", {})) for kv in data.get("attributes", [])}
    record.span_type = record.attributes.get("mlflow.spanType")
    record.inputs = record.attributes.get("mlflow.spanInputs")
    record.outputs = record.attributes.get("mlflow.spanOutputs")
    record.start_time_ns, record.end_time_ns = int(data["start_time_unix_nano"]), int(data["end_time_unix_nano"])
    return record


class ServerStore:
    """The part of MlflowClient the reading commands use, over a self-hosted MLflow server's REST
    API with urllib: no mlflow import (2 s) for a command that prints ten lines."""

    refused = None      # the error when the server refuses our credentials (None: mlflow_rest's own)

    def __init__(self, uri, env):
        self.uri, self.env = uri.rstrip("/"), env

    def call(self, method, endpoint, body=None, version="2.0"):
        status, answer = mlflow_rest(self.uri, method, endpoint, self.env, body, timeout=30, version=version,
                                     refused=self.refused)
        if status != 200:
            error = RuntimeError(f"HTTP {status}: {answer.get('message', '')}")
            error.error_code = answer.get("error_code", "")
            raise error
        return answer

    def _experiment(self, body):
        from types import SimpleNamespace
        e = body["experiment"] if "experiment" in body else body
        return SimpleNamespace(experiment_id=e["experiment_id"], name=e["name"], lifecycle_stage=e.get("lifecycle_stage"))

    def get_experiment_by_name(self, name):
        import urllib.parse
        try:
            return self._experiment(self.call("GET", "experiments/get-by-name?experiment_name=" + urllib.parse.quote(name)))
        except RuntimeError as e:
            if not_found(e):
                return None
            raise

    def get_experiment(self, experiment_id):
        import urllib.parse
        return self._experiment(self.call("GET", "experiments/get?experiment_id=" + urllib.parse.quote(str(experiment_id))))

    def search_experiments(self, max_results=None):
        found, token = [], None
        while True:
            body = self.call("POST", "experiments/search", {"max_results": 1000, "view_type": "ACTIVE_ONLY",
                                                           **({"page_token": token} if token else {})})
            found += [self._experiment(e) for e in body.get("experiments", [])]
            token = body.get("next_page_token")
            if not token:
                return found

    def search_traces(self, locations, filter_string=None, max_results=100, order_by=None, page_token=None,
                      include_spans=False):
        from types import SimpleNamespace
        body = {"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": e}} for e in locations],
                "max_results": max_results, "order_by": order_by or []}
        body.update({k: v for k, v in (("filter", filter_string), ("page_token", page_token)) if v})
        answer = self.call("POST", "traces/search", body, version="3.0")
        page = Page(SimpleNamespace(info=trace_info_record(t), data=SimpleNamespace(spans=[]))
                    for t in answer.get("traces", []))
        page.token = answer.get("next_page_token") or None
        return page

    def get_trace(self, trace_id, display=False):
        import urllib.parse
        from types import SimpleNamespace
        try:
            trace = self.call("GET", "traces/get?trace_id=" + urllib.parse.quote(trace_id), version="3.0")["trace"]
        except RuntimeError as e:
            if not_found(e):
                raise NotFound(f"no trace {trace_id}") from None
            raise
        info = trace_info_record(trace["trace_info"])
        if info.tags.get("mlflow.trace.spansLocation") != "TRACKING_STORE":      # spans kept as an artifact
            quiet_mlflow()
            need_mlflow()
            return open_store(self.uri).get_trace(trace_id, display=False)
        return SimpleNamespace(info=info, data=SimpleNamespace(spans=[otlp_span_record(s) for s in trace.get("spans", [])]))

    def batch_get_traces(self, trace_ids):
        """Whole traces in one request, in the order asked; None when one of them keeps its
        spans elsewhere (the caller then reads them one by one)."""
        import urllib.parse
        from types import SimpleNamespace
        query = urllib.parse.urlencode([("trace_ids", t) for t in trace_ids])
        by_id = {}
        for trace in self.call("GET", "traces/batchGet?" + query, version="3.0").get("traces", []):
            info = trace_info_record(trace["trace_info"])
            if info.tags.get("mlflow.trace.spansLocation") != "TRACKING_STORE":
                return None
            by_id[info.trace_id] = SimpleNamespace(info=info, data=SimpleNamespace(
                spans=[otlp_span_record(s) for s in trace.get("spans", [])]))
        return [by_id[t] for t in trace_ids] if set(by_id) == set(trace_ids) else None


class DatabricksStore(ServerStore):
    """ServerStore over a Databricks workspace. Searches take the V3 API, as MLflow's own client
    does where the workspace has no V4 search; spans are kept as artifacts there, which only
    the mlflow client reads."""

    def __init__(self, uri, env):
        host, profile = databricks_host(env), databricks_profile(env)
        self.profile = profile if profile in databricks_config() else None   # None: the environment signs in
        if not host:
            raise TracesError(f"no Databricks workspace for profile {profile!r}: it is not in "
                              f"{databricks_config_file()} and DATABRICKS_HOST is not set")
        super().__init__(host, {})
        self.tracking_uri, self.settings = uri, env
        self.refused = sign_in_error(self.uri, self.profile, env).args[0]
        self._mlflow = None

    def call(self, method, endpoint, body=None, version="2.0"):
        if not self.env:            # signed in at the first request: reading spans alone needs no token
            self.env = {ENV_TOKEN: databricks_token(self.settings, self.uri, self.profile)}
        return super().call(method, endpoint, body, version)

    def mlflow(self):
        if self._mlflow is None:
            quiet_mlflow()
            need_mlflow()
            self._mlflow = open_store(self.tracking_uri)
        return self._mlflow

    def get_trace(self, trace_id, display=False):
        return self.mlflow().get_trace(trace_id, display=False)

    def batch_get_traces(self, trace_ids):
        return None         # one by one, through the mlflow client


class Backend:
    """The MLflow backend and experiment(s) a reading command looks at."""

    def __init__(self, root):
        self.root = root
        env = {k: v for k, v in os.environ.items() if k.startswith(("MLFLOW_", "DATABRICKS_"))}
        env.update(RepoSettings(root).env)
        env.update(job_credentials(root, env.get(ENV_URI) or local_store_uri()))
        export_backend_env(env)                # MLflow and the SDK read tokens and profiles from there
        self.env = env
        self.uri = env.get(ENV_URI) or local_store_uri()
        if backend_kind(self.uri) == "local":
            path = self.uri.split(":///", 1)[-1]
            # MLflow would create an empty store (and ./mlruns) just to find nothing in it.
            check_local_store(path)
            if not os.path.lexists(path):
                check_home()
                raise TracesError(f"there is no local store at {path} yet: nothing has been traced on this "
                                  f"machine (run `traces init` here, then use Claude Code)")
            try:
                if os.environ.get(ENV_READER) != "mlflow":
                    self.client = LocalStore(path, self.uri)
                    return
            except LookupError as e:        # a layout this reader does not know: slow, and says why
                print(f"Note: reading {path} through mlflow (seconds, not milliseconds): {e}", file=sys.stderr)
            except (OSError, ImportError):
                pass
            except Exception as e:  # noqa: BLE001 - sqlite3.Error: mlflow says it better
                log(f"reading {path} without mlflow failed: {type(e).__name__}: {e}")
        if is_http(self.uri) and os.environ.get(ENV_READER) != "mlflow":
            self.client = ServerStore(self.uri, env)
            return
        # Traces in Unity Catalog tables are searched with V4 and a SQL warehouse: mlflow's part.
        if backend_kind(self.uri) == "databricks" and not env.get(ENV_TRACE_LOCATION) \
                and os.environ.get(ENV_READER) != "mlflow":
            self.client = DatabricksStore(self.uri, env)
            return
        quiet_mlflow()
        need_mlflow()
        self.client = open_store(self.uri)

    def reads_only(self, keys):
        """The command reads only these tag and metadata keys (None: all of them again): a reader
        that can fetch less does."""
        if isinstance(self.client, LocalStore):
            self.client.keys = None if keys is None else tuple(keys)

    def call(self, what, fn, *args, **kwargs):
        """Run one MLflow call; a failure becomes an error that says what to check."""
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - MLflow raises many kinds for one dead backend
            self.fail(what, e)

    def fail(self, what, error):
        if isinstance(error, TracesError):      # already says what to do (sign in again, say)
            raise error
        raise TracesError(f"cannot {what} at {self.uri} ({short_error(error)}); check that the backend "
                          f"is up and `traces status` shows the right tracking URI") from None

    def current(self):
        """(name, id) of this repository's experiment, as its settings name it."""
        name = self.env.get(ENV_EXPERIMENT)
        if not name and self.env.get(ENV_EXPERIMENT_ID):
            return None, self.env[ENV_EXPERIMENT_ID]
        return name or default_experiment_name(self.root), None

    def experiment(self, name=None, experiment_id=None):
        """The experiment by name (or id; a number that is not a name is tried as an id)."""
        found = self.find_experiment(name, experiment_id)
        if found is None:
            shown = repr(name) if name else f"id {experiment_id}"
            raise TracesError(f"experiment {shown} does not exist at {self.uri}; `traces list` shows "
                              f"the experiments there (or pass -e NAME / --all)")
        return found

    def find_experiment(self, name=None, experiment_id=None):
        """The experiment, or None when the backend (which answered) has no such one."""
        found = None
        if name:
            found = self.call("look up experiment " + repr(name), self.client.get_experiment_by_name, name)
        if found is None and (experiment_id or (name or "").isdigit()):
            try:
                found = self.client.get_experiment(experiment_id or name)
            except Exception as e:  # noqa: BLE001
                if not_found(e):
                    found = None
                else:
                    self.fail("look up an experiment", e)
        return None if found is None or found.lifecycle_stage == "deleted" else found

    def experiments(self):
        return self.call("list experiments", self.client.search_experiments, max_results=50000)

    def locations(self, args):
        """The experiment ids a command searches: -e, --all, or this repository's."""
        if getattr(args, "all", False):
            return [e.experiment_id for e in self.experiments()]
        if getattr(args, "experiment", None):
            return [self.experiment(args.experiment).experiment_id]
        name, experiment_id = self.current()
        if experiment_id:       # an id the settings name and the backend lacks is worth an error
            return [self.experiment(name, experiment_id).experiment_id]
        found = self.find_experiment(name)
        return [found.experiment_id] if found else []     # nothing traced here yet: no traces

    def trace(self, trace_id):
        try:
            return self.client.get_trace(trace_id, display=False)
        except Exception as e:  # noqa: BLE001
            if not_found(e):
                raise TracesError(f"there is no trace {trace_id} at {self.uri}; `traces search` lists "
                                  f"trace ids (and `traces status` the backend this repository uses)") from None
            self.fail("read trace " + trace_id, e)

    def traces(self, trace_ids):
        """Whole traces (with spans), in the order asked: one request to a server."""
        if isinstance(self.client, ServerStore) and trace_ids:
            found = self.call("read traces", self.client.batch_get_traces, trace_ids)
            if found is not None:
                return found
        return [self.trace(trace_id) for trace_id in trace_ids]


def trace_agent(info):
    """The agent of a turn: traces from before the tag (or with it empty) are Claude Code's."""
    return info.tags.get(TAG_AGENT) or DEFAULT_AGENT


def json_tag(info, key, default):
    try:
        value = json.loads(info.tags.get(key) or "null")
    except ValueError:
        return default
    return value if isinstance(value, type(default)) else default


def trace_files(info):
    return [f for f in json_tag(info, "files.modified", []) if isinstance(f, str)]


def file_matches(wanted, paths):
    """A path given on the command line matches a changed file, a folder above it, or its tail."""
    wanted = wanted.rstrip("/")
    for path in paths:
        if path == wanted or path.startswith(wanted + "/") or path.endswith("/" + wanted):
            return True
    return False


def trace_filters(args, root):
    """(filter string MLflow applies, a check every trace must pass here too).

    Everything MLflow can express is pushed down (time, tags, metadata), so the backend does the
    work; LIKE matches on JSON tags are only a superset, and the local check makes them exact.
    """
    clauses, checks = [], []
    start = max(filter(None, [getattr(args, "since", None),
                              getattr(args, "hours", None) and time.time() - args.hours * 3600]), default=None)
    if start:
        clauses.append(f"trace.timestamp_ms >= {int(start * 1000)}")
    if getattr(args, "until", None):
        clauses.append(f"trace.timestamp_ms < {int(args.until * 1000)}")
    if getattr(args, "session", None):
        clauses.append(f"metadata.`{META_SESSION}` LIKE '{like_escape(args.session)}%'")
        checks.append(lambda info: info.trace_metadata.get(META_SESSION, "").startswith(args.session))
    if getattr(args, "branch", None):
        clauses.append(f"tags.`git.branch` = '{like_escape(args.branch)}'")
        checks.append(lambda info: info.tags.get("git.branch") == args.branch)
    if getattr(args, "agent", None):
        # Traces from before the tag are Claude Code's: only another agent's can be asked of the backend.
        if args.agent != DEFAULT_AGENT:
            clauses.append(f"tags.`{TAG_AGENT}` = '{args.agent}'")
        checks.append(lambda info: trace_agent(info) == args.agent)
    if getattr(args, "status", None):
        clauses.append(f"tags.`{TAG_STATUS}` = '{args.status}'")
        checks.append(lambda info: info.tags.get(TAG_STATUS) == args.status)
    if getattr(args, "tool", None):
        clauses.append(f"tags.`{TAG_TOOLS}` LIKE '%{like_escape(json.dumps(args.tool))}:%'")
        checks.append(lambda info: args.tool in json_tag(info, TAG_TOOLS, {}))
    if getattr(args, "file", None):
        wanted = args.file
        if os.path.isabs(wanted) or wanted.startswith("."):
            # Tags hold repository-relative paths; a path typed from a subfolder means the same file.
            wanted = os.path.relpath(os.path.abspath(wanted), root)
        clauses.append(f"tags.`files.modified` LIKE '%{like_escape(os.path.basename(wanted.rstrip('/')))}%'")
        checks.append(lambda info: file_matches(wanted, trace_files(info)))
    return " AND ".join(clauses) or None, (lambda info: all(check(info) for check in checks))


def find_traces(backend, locations, filter_string, check, limit):
    """Newest first: trace infos that pass check, at most limit (0: all), paging as needed."""
    if not locations:
        return []
    found, token = [], None
    most = getattr(backend.client, "page_limit", 500)                # a server takes at most 500 a page
    page = most if not limit else min(max(limit, 10) * 2, most)
    while True:
        def search(filter_string=filter_string, token=token):
            return backend.client.search_traces(
                locations=locations, filter_string=filter_string, max_results=page,
                order_by=["timestamp_ms DESC"], page_token=token, include_spans=False)
        try:
            batch = search()
        except Exception as e:  # noqa: BLE001
            # A backend that cannot apply some clause (Databricks restricts LIKE on tags):
            # keep only the time window there and check the rest here.
            narrowed = " AND ".join(c for c in (filter_string or "").split(" AND ") if "timestamp_ms" in c) or None
            if error_code(e) != "INVALID_PARAMETER_VALUE" or narrowed == filter_string:
                backend.fail("search traces", e)
            filter_string, token = narrowed, None
            continue
        for trace in batch:
            if check(trace.info):
                found.append(trace.info)
                if limit and len(found) >= limit:
                    return found
        token = batch.token
        if not token or not batch:
            return found


def describe_current(backend):
    name, experiment_id = backend.current()
    return repr(name) if name else f"id {experiment_id}"


# -- values shared by the formats ---------------------------------------------------------


def local_time(ms, seconds=False):
    return time.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M", time.localtime(ms / 1000))


def int_tag(info, key):
    try:
        return int(info.tags.get(key) or 0)
    except ValueError:
        return 0


def cost_tag(info):
    """The turn's cost in USD, or None when the engine knew no price for its model."""
    try:
        return float(info.tags["cost.usd"])
    except (KeyError, ValueError):
        return None


def first_line(text, width=None):
    line = next((part.strip() for part in (text or "").splitlines() if part.strip()), "")
    return line if width is None or len(line) <= width else line[:width - 1] + "…"


def tool_list(counts):
    """`Bash×3 Edit Read` from the tools tag (most used first)."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return " ".join(name if n == 1 else f"{name}×{n}" for name, n in ordered)


def seconds_text(ms):
    if ms is None:
        return "-"
    return f"{ms / 1000:.1f} s" if ms < 60_000 else f"{int(ms // 60_000)} min {int(ms % 60_000 / 1000)} s"


def money(value):
    """Dollars, or `no price` for a turn whose model no catalog prices: not a $0 that reads as free."""
    return "no price" if value is None else f"${value:.4f}" if value < 1 else f"${value:,.2f}"


# -- formats -------------------------------------------------------------------------------


@search_format("summary", per_turn=True)
def format_summary(infos, args):
    """One aligned block per turn, from tags, metadata and previews only (no spans fetched)."""
    paint = Painter(sys.stdout)
    for n, info in enumerate(infos):
        tools = json_tag(info, TAG_TOOLS, {})
        errors = int_tag(info, TAG_TOOL_ERRORS)
        status = info.tags.get(TAG_STATUS) or "ok"
        tokens = [("in", "tokens.input"), ("out", "tokens.output"), ("cache read", "tokens.cache_read"),
                  ("cache write", "tokens.cache_creation")]
        rows = [
            ("prompt", first_line(info.request_preview, 100) or "-"),
            ("session", info.trace_metadata.get(META_SESSION, "-")
             + (f"  branch {info.tags['git.branch']}" if info.tags.get("git.branch") else "")),
            ("took", f"{seconds_text(info.execution_duration)}  "
                     f"model {info.trace_metadata.get(META_MODELS) or '-'}"),
            ("tokens", f"{int_tag(info, 'tokens.total'):,} ("
                       + ", ".join(f"{label} {int_tag(info, key):,}" for label, key in tokens) + ")"
                       + f"  cost {money(cost_tag(info))}"),
            ("tools", (tool_list(tools) or "none")
             + (paint.bad(f"  {errors} error{'s' * (errors != 1)}") if errors else "")),
        ]
        files = trace_files(info)
        if files:
            rows.append(("files", ", ".join(files[:8]) + (f" (+{len(files) - 8} more)" if len(files) > 8 else "")))
        if n:
            print()
        badge = paint.ok(status) if status == "ok" else paint.bad(status)
        agent = f"  agent {trace_agent(info)}" if args.several_agents else ""
        print(f"{paint.bold(local_time(info.request_time))}  {paint.accent(info.trace_id)}  {badge}{agent}")
        for label, value in rows:
            print(f"  {paint.dim(f'{label:<8}')} {value}")


def iso_ms(ms):
    from datetime import datetime, timezone
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Span attributes MLflow uses for what the JSON already shows as fields.
SPAN_PLUMBING = ("mlflow.spanInputs", "mlflow.spanOutputs", "mlflow.spanType", "mlflow.traceRequestId",
                 "mlflow.spanStartTimeNs", "mlflow.experimentId", "mlflow.spanLogLevel")


def trace_json(trace):
    """One trace in the documented `-f json` schema (README: "Reading traces as JSON")."""
    info = trace.info
    spans = trace.data.spans
    parents = {s.span_id: s.parent_id for s in spans}

    def depth(span_id):
        d = 0
        while parents.get(span_id):
            span_id, d = parents[span_id], d + 1
        return d
    ordered = sorted(spans, key=lambda s: (s.start_time_ns, depth(s.span_id), s.span_id))
    return {
        "trace_id": info.trace_id,
        "experiment_id": info.experiment_id,
        "start_time": iso_ms(info.request_time),
        "duration_ms": info.execution_duration,
        "state": str(getattr(info.state, "value", info.state)),
        "request_preview": info.request_preview,
        "response_preview": info.response_preview,
        "tags": dict(info.tags),
        "metadata": dict(info.trace_metadata),
        "spans": [{
            "span_id": s.span_id,
            "parent_id": s.parent_id,
            "name": s.name,
            "type": s.span_type,
            "status": str(getattr(s.status.status_code, "value", s.status.status_code)),
            "start_time_ns": s.start_time_ns,
            "end_time_ns": s.end_time_ns,
            "inputs": s.inputs,
            "outputs": s.outputs,
            "attributes": {k: v for k, v in s.attributes.items() if k not in SPAN_PLUMBING},
        } for s in ordered],
    }


@search_format("json", needs_spans=True)
def format_json(traces, args):
    print(json.dumps({"traces": [trace_json(t) for t in traces]}, indent=2, sort_keys=True,
                     ensure_ascii=False, default=str))


def quoted(text):
    return "\n".join("> " + line if line.strip() else ">" for line in (text or "").strip().splitlines()) or "> (empty)"


@search_format("context", per_turn=True)
def format_context(infos, args):
    """Markdown for an LLM's context window: newest first, whole lines, within --max-chars."""
    out = [f"# {'Coding-agent' if args.several_agents else 'Claude Code'} turns, newest first ({len(infos)})", "",
           "A turn's steps (the model's text, each tool call and its result): `traces show <trace id>`.", ""]
    size = sum(len(line) + 1 for line in out)
    for n, info in enumerate(infos):
        tools = json_tag(info, TAG_TOOLS, {})
        errors = int_tag(info, TAG_TOOL_ERRORS)
        files = trace_files(info)
        block = [
            f"## {local_time(info.request_time)} · session {info.trace_metadata.get(META_SESSION, '?')}"
            + (f" · branch {info.tags['git.branch']}" if info.tags.get("git.branch") else "")
            + (f" · agent {trace_agent(info)}" if args.several_agents else ""),
            "", "Prompt:", quoted(info.request_preview), "",
            "Done: " + (f"tools {tool_list(tools)}" if tools else "no tools")
            + (f" ({errors} failed)" if errors else "") + (f"; files changed: {', '.join(files)}" if files else ""),
            "", "Outcome:", quoted(info.response_preview), "",
            f"Cost: {money(cost_tag(info))}, {int_tag(info, 'tokens.total'):,} tokens, "
            f"{seconds_text(info.execution_duration)}; trace {info.trace_id}", "",
        ]
        lines = "\n".join(block).split("\n")
        for line in lines:
            marker = f"[truncated at --max-chars {args.max_chars}: {len(infos) - n} turn(s) not shown in full]"
            if size + len(line) + 1 + len(marker) + 1 > args.max_chars:
                out.append(marker)
                print("\n".join(out))
                return
            out.append(line)
            size += len(line) + 1
    print("\n".join(out).rstrip("\n"))


@search_format("tools", needs_spans=True)
def format_tools(traces, args):
    """Per tool: calls, errors and time, from the `tool_<Name>` spans (subagents' too)."""
    stats = {}
    for trace in traces:
        for span in trace.data.spans:
            if span.name.startswith("tool_") and span.span_type == "TOOL":
                row = stats.setdefault(span.name[len("tool_"):], {"calls": 0, "errors": 0, "ns": 0})
                row["calls"] += 1
                row["errors"] += str(getattr(span.status.status_code, "value", span.status.status_code)) == "ERROR"
                row["ns"] += max(0, (span.end_time_ns or span.start_time_ns) - span.start_time_ns)
    if not stats:
        print(f"No tool calls in the {len(traces)} turn(s) found.")
        return
    width = max(4, *(len(name) for name in stats))
    print(f"{'TOOL':<{width}}  {'CALLS':>6}  {'ERRORS':>6}  {'TOTAL TIME':>11}  {'AVERAGE':>9}")
    for name, row in sorted(stats.items(), key=lambda item: (-item[1]["calls"], item[0])):
        print(f"{name:<{width}}  {row['calls']:>6}  {row['errors']:>6}  {seconds_text(row['ns'] / 1e6):>11}  "
              f"{seconds_text(row['ns'] / 1e6 / row['calls']):>9}")
    calls = sum(r["calls"] for r in stats.values())
    print(f"{calls} tool call(s), {sum(r['errors'] for r in stats.values())} error(s) in {len(traces)} turn(s)")


# -- a turn step by step (traces show) ------------------------------------------------------

# A turn replayed: its spans as a tree of steps (the model's text, tool calls with what matters
# for each, subagents under the call that started them), which the formats of `traces show`
# print. What matters of a tool call is read from its input's keys, not its name, so that
# every agent's tools are shown alike: Claude Code's Bash and Edit, Codex's exec_command and
# apply_patch, Gemini's run_shell_command and replace, Copilot's bash and edit.
COMMAND_KEYS = ("command", "cmd")
PATH_KEYS = ("file_path", "path", "notebook_path", "absolute_path", "dir_path")
PATTERN_KEYS = ("pattern", "query", "url", "glob")
EDIT_KEYS = (("old_string", "new_string"), ("old_str", "new_str"))
WRITE_KEYS = ("content", "file_text")
SHELLS = (["bash", "-lc"], ["bash", "-c"], ["sh", "-c"], ["zsh", "-lc"], ["zsh", "-c"])    # an argv's shell, its option
RESULT_LINES = 4        # lines of a tool's result shown without --full
DIFF_LINES = 40         # lines of a diff shown without --full
LINE_CHARS = 200        # characters of a result's line shown without --full (a JSON answer is one line)
SUBAGENT_PREFIX = "subagent_"
PATCH_TEXT = re.compile(r"\*\*\* Begin Patch\n.*?(?:\*\*\* End Patch|\Z)", re.S)   # Codex's apply_patch, as a tool or in a command


def span_status(span):
    return str(getattr(span.status.status_code, "value", span.status.status_code))


def command_text(value):
    """A command as typed: Codex's argv lists (`["bash", "-lc", "ls"]`) shown as `ls`."""
    import shlex
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        shell = [os.path.basename(value[0]), value[1]] if len(value) == 3 else None
        return value[-1] if shell in SHELLS else shlex.join(value)
    return value if isinstance(value, str) else None


def result_text(value):
    """A tool's result as text: content blocks joined, a JSON answer's `output` (Codex's older
    shell), other values as JSON."""
    if isinstance(value, list):
        parts = [b["text"] if isinstance(b, dict) and isinstance(b.get("text"), str) else json.dumps(b, default=str)
                 for b in value]
        return "\n".join(parts)
    if isinstance(value, str):
        if value.startswith("{") and '"output"' in value:
            try:
                parsed = json.loads(value)
            except ValueError:
                return value
            if isinstance(parsed, dict) and isinstance(parsed.get("output"), str):
                return parsed["output"]
        return value
    return "" if value is None else json.dumps(value, ensure_ascii=False, default=str)


def edit_diff(tool_input, path):
    """The unified diff of an edit or a write (a write from nothing: the file's earlier text is
    not in the trace), the text of an apply_patch; None for a call that changes no file."""
    if not isinstance(tool_input, dict):
        tool_input = {"input": tool_input}
    texts = [v for v in tool_input.values() if isinstance(v, str)] + \
        [x for v in tool_input.values() if isinstance(v, list) for x in v if isinstance(x, str)]
    patch = next((found.group() for text in texts for found in [PATCH_TEXT.search(text)] if found), None)
    if patch:
        return patch.splitlines()
    edits = tool_input.get("edits") if isinstance(tool_input.get("edits"), list) else [tool_input]
    pairs = [(e.get(old), e.get(new)) for e in edits if isinstance(e, dict) for old, new in EDIT_KEYS
             if isinstance(e.get(old), str) and isinstance(e.get(new), str)]
    name = path or "file"
    if not pairs:
        written = next((tool_input[k] for k in WRITE_KEYS if isinstance(tool_input.get(k), str)), None)
        if written is None or not path:
            return None
        pairs, old_name = [("", written)], "/dev/null"
    else:
        old_name = "a/" + name.lstrip("/")
    # Imported here, not above: most calls change no file, and the import takes about 4 ms.
    import difflib
    lines = []
    for old, new in pairs:
        diff = difflib.unified_diff(old.splitlines(), new.splitlines(), old_name, "b/" + name.lstrip("/"), lineterm="")
        lines += list(diff)[2 if lines else 0:]       # one header for the edits of one call
    return lines


def exit_code(span, text, command):
    """A command's exit status: the span's own (Codex, Gemini, Copilot), else what Claude Code's
    result says (`Exit code 3`; a call without error exited 0)."""
    code = span.attributes.get("claudetracing.exit_code")
    if isinstance(code, int) or command is None:
        return code
    found = re.match(r"Exit code (\d+)", text or "")
    return int(found.group(1)) if found else None if span_status(span) == "ERROR" else 0


def tool_step(span, children):
    """A TOOL span as a step: the tool, what matters of its input, its result, the subagent
    it started (an AGENT span under it)."""
    tool_input = span.inputs
    fields = tool_input if isinstance(tool_input, dict) else {}
    command = next((text for text in map(command_text, (fields.get(k) for k in COMMAND_KEYS)) if text), None)
    path = next((fields[k] for k in PATH_KEYS if isinstance(fields.get(k), str)), None)
    pattern = next((fields[k] for k in PATTERN_KEYS if isinstance(fields.get(k), str)), None)
    outputs = span.outputs if isinstance(span.outputs, dict) else {"result": span.outputs}
    result = result_text(outputs.get("result"))
    step = {"type": "tool", "name": span.name[len("tool_"):], "error": span_status(span) == "ERROR",
            "duration_ms": max(0, ((span.end_time_ns or span.start_time_ns) - span.start_time_ns) // 1_000_000),
            "command": command, "exit_code": exit_code(span, result, command), "path": path, "pattern": pattern,
            "description": fields["description"] if command is None and path is None and pattern is None
            and isinstance(fields.get("description"), str) else None,
            "diff": edit_diff(tool_input, path), "input": tool_input, "result": result, "subagent": None}
    agents = [c for c in children.get(span.span_id, ()) if c.span_type == "AGENT"]
    if agents:
        step["subagent"] = agent_replay(agents[0], children)
        step["subagent"]["type"] = agents[0].name[len(SUBAGENT_PREFIX):]
    return step


def agent_replay(span, children):
    """An AGENT span (the turn's root, or a subagent's) as {prompt, steps, answer}: its
    children in time order, the model's text and thinking, the tool calls; the last text is
    not repeated when it is the answer."""
    steps = []
    for child in children.get(span.span_id, ()):
        if child.span_type == "TOOL":
            steps.append(tool_step(child, children))
        elif child.span_type == "LLM":
            content = (child.outputs or {}).get("content") if isinstance(child.outputs, dict) else None
            for block in content if isinstance(content, list) else []:
                kind = block.get("type") if isinstance(block, dict) else None
                text = block.get("text") if kind == "text" else block.get("thinking") if kind == "thinking" else None
                if isinstance(text, str) and text.strip():
                    steps.append({"type": kind, "text": text})
    inputs = span.inputs if isinstance(span.inputs, dict) else {}
    outputs = span.outputs if isinstance(span.outputs, dict) else {}
    answer = result_text(outputs.get("response"))
    if steps and steps[-1]["type"] == "text" and steps[-1]["text"].strip() == answer.strip():
        steps.pop()
    return {"prompt": result_text(inputs.get("prompt")), "steps": steps, "answer": answer}


def span_children(spans):
    """{span id: its children in time order}; a tie (Gemini's older files give a turn's tool
    calls and the answer after them one time) goes to the one that ended first, then to the
    order the store gave."""
    children = {}
    for n, span in enumerate(spans):
        children.setdefault(span.parent_id, []).append((span.start_time_ns or 0, span.end_time_ns or 0, n, span))
    return {parent: [item[-1] for item in sorted(found, key=lambda item: item[:3])] for parent, found in children.items()}


def turn_replay(trace):
    """One trace as `traces show` prints it: its header, then agent_replay of its root span."""
    info = trace.info
    children = span_children(trace.data.spans)
    roots = children.get(None) or [None]
    replay = agent_replay(roots[0], children) if roots[0] else {"prompt": info.request_preview or "", "steps": [],
                                                               "answer": info.response_preview or ""}
    return {
        "trace_id": info.trace_id, "start_time": iso_ms(info.request_time), "request_time": info.request_time,
        "agent": trace_agent(info), "session": info.trace_metadata.get(META_SESSION),
        "branch": info.tags.get("git.branch"), "commit": info.tags.get("git.commit_id"),
        "models": [m for m in (info.trace_metadata.get(META_MODELS) or "").split(",") if m],
        "duration_ms": info.execution_duration, "status": info.tags.get(TAG_STATUS) or "ok",
        "tokens": {kind: int_tag(info, "tokens." + kind) for kind in ("input", "output", "cache_read", "cache_creation", "total")},
        "cost_usd": cost_tag(info), **replay,
    }


def cut_lines(lines, most, full):
    """lines, or their first `most`, each cut to LINE_CHARS, and a line saying how many more
    --full shows."""
    if full:
        return lines
    shown = [line if len(line) <= LINE_CHARS else line[:LINE_CHARS - 1] + "…" for line in lines[:most]]
    return shown + ([f"… {len(lines) - most} more line(s) (--full shows them)"] if len(lines) > most else [])


def tool_headline(step):
    """What matters of a call on one line: its command, file, pattern or description."""
    parts = []
    if step["command"] is not None:
        parts.append("$ " + " ⏎ ".join(step["command"].splitlines()))
    if step["path"] is not None:
        parts.append(step["path"])
    if step["pattern"] is not None:
        parts.append(repr(step["pattern"]))
    if step["description"]:
        parts.append(first_line(step["description"], 100))
    if step["subagent"]:
        parts.insert(0, f"[{step['subagent']['type']}]")
    elif not parts and step["input"] not in (None, {}, ""):
        parts.append(first_line(json.dumps(step["input"], ensure_ascii=False, default=str), 100))
    return "  ".join(parts)


def turn_header_rows(turn):
    tokens = turn["tokens"]
    return [
        ("agent", f"{turn['agent']}  session {turn['session'] or '-'}"),
        ("git", f"branch {turn['branch'] or '-'}  commit {(turn['commit'] or '-')[:12]}"
         if turn["branch"] or turn["commit"] else "-"),
        ("model", ", ".join(turn["models"]) or "-"),
        ("took", f"{seconds_text(turn['duration_ms'])}  tokens {tokens['total']:,} (in {tokens['input']:,}, "
                 f"out {tokens['output']:,}, cache read {tokens['cache_read']:,}, "
                 f"cache write {tokens['cache_creation']:,})  cost {money(turn['cost_usd'])}"),
    ]


def status_badge(status, paint):
    return paint.ok(status) if status == "ok" else paint.bad(status)


def show_text(turns, args):
    """`traces show` for a terminal: indented steps, a subagent's under the call that started it."""
    paint = Painter(sys.stdout)
    out = []

    def block(lines, indent, style=str):
        out.extend(indent + style(line) if line else "" for line in lines)

    def diff_style(line):
        return paint.ok(line) if line.startswith("+") else paint.bad(line) if line.startswith("-") \
            else paint.accent(line) if line.startswith("@@") else line

    def steps(replay, depth):
        pad = "    " * depth
        for step in replay["steps"]:
            if step["type"] == "text":
                block(step["text"].strip("\n").splitlines(), pad + "  ")
            elif step["type"] == "thinking":
                block(cut_lines(("thinking: " + step["text"].strip()).splitlines(), RESULT_LINES, args.full),
                      pad + "  ", paint.dim)
            else:
                mark = (f"  exit {step['exit_code']}" if step["exit_code"] is not None else "") \
                    + ("  ✗ error" if step["error"] else "")
                headline = tool_headline(step)
                out.append(f"{pad}▸ {paint.accent(step['name'])}" + (f"  {headline}" if headline else "")
                           + (paint.bad(mark) if step["error"] else paint.dim(mark)))
                if step["diff"]:
                    block(cut_lines(step["diff"], DIFF_LINES, args.full), pad + "    ", diff_style)
                if step["subagent"]:
                    block(["prompt: " + first_line(step["subagent"]["prompt"], 100)], pad + "    ", paint.dim)
                    steps(step["subagent"], depth + 1)
                    block(("answer: " + step["subagent"]["answer"].strip()).splitlines(), pad + "    ")
                else:
                    lines = cut_lines(step["result"].strip("\n").splitlines(), RESULT_LINES, args.full)
                    block(lines, pad + "    ", paint.bad if step["error"] else paint.dim)

    for n, turn in enumerate(turns):
        if n:
            out.append("")
        out.append(f"{paint.bold(local_time(turn['request_time'], seconds=True))}  {paint.accent(turn['trace_id'])}  "
                   f"{status_badge(turn['status'], paint)}")
        out.extend(f"  {paint.dim(f'{label:<6}')} {value}" for label, value in turn_header_rows(turn))
        out.append("")
        out.append(paint.bold("Prompt"))
        block(turn["prompt"].strip("\n").splitlines() or ["(empty)"], "  ")
        out.append("")
        steps(turn, 0)
        out.append("")
        if turn["status"] == "interrupted":
            out.append(paint.bad("Interrupted by the user"))
        out.append(paint.bold("Answer"))
        block(turn["answer"].strip("\n").splitlines() or ["(none)"], "  ")
    return "\n".join(out) + "\n"


def fenced(lines, language=""):
    """A Markdown code block whose fence no line of the text can close."""
    longest = max((len(run) for line in lines for run in re.findall(r"`{3,}", line)), default=2)
    fence = "`" * (longest + 1)
    return [fence + language, *lines, fence]


def show_markdown(turns, args):
    """`traces show -f markdown`: to paste into a pull request or an issue."""
    out = []

    def indented(lines, depth):
        out.extend(("  " * depth + line) if line else "" for line in lines)

    def steps(replay, depth):
        for step in replay["steps"]:
            if step["type"] == "text":
                indented(["- " + line if i == 0 else "  " + line
                          for i, line in enumerate(step["text"].strip("\n").splitlines())], depth)
            elif step["type"] == "thinking":
                indented(["- *thinking:* " + first_line(step["text"], 200)], depth)
            else:
                what = tool_headline(step)
                status = (f" — exit {step['exit_code']}" if step["exit_code"] is not None else "") \
                    + (" — **error**" if step["error"] else "")
                indented([f"- **{step['name']}**" + (f" `{what.replace('`', '´')}`" if what else "") + status], depth)
                if step["diff"]:
                    indented(fenced(cut_lines(step["diff"], DIFF_LINES, args.full), "diff"), depth + 1)
                if step["subagent"]:
                    steps(step["subagent"], depth + 1)
                    indented(["- *answer:* " + first_line(step["subagent"]["answer"], 300)], depth + 1)
                elif step["result"].strip():
                    indented(fenced(cut_lines(step["result"].strip("\n").splitlines(), RESULT_LINES, args.full)),
                             depth + 1)

    for turn in turns:
        out += [f"### {local_time(turn['request_time'])} · {turn['agent']} · {turn['status']} · `{turn['trace_id']}`", ""]
        out += [f"- **{label}**: {value}" for label, value in turn_header_rows(turn)]
        out += ["", "**Prompt**", "", quoted(turn["prompt"]), "", "**Steps**", ""]
        steps(turn, 0)
        if not turn["steps"]:
            out.append("(none)")
        out += ["", "**Answer**" + (" (interrupted by the user)" if turn["status"] == "interrupted" else ""), "",
                quoted(turn["answer"]), ""]
    return "\n".join(out)


def show_json(turns, args):
    """`traces show -f json`: the replay whole, whatever --full says (README: "traces show")."""
    shown = [{k: v for k, v in turn.items() if k != "request_time"} for turn in turns]
    return json.dumps({"turns": shown}, indent=2, ensure_ascii=False, default=str) + "\n"


SHOW_FORMATS = {"text": show_text, "markdown": show_markdown, "json": show_json}


###############################################################################
# Setup helpers: what init, status, disable, enrichment and redact share
###############################################################################

def probe_hook(root):
    """Run the hook command's invocation the way Claude Code will, in the foreground (the
    rest of the command only sends it to the background); what the hook answered, or None."""
    import shutil
    import subprocess
    import tempfile
    answer = os.path.join(tempfile.mkdtemp(prefix="traces-probe-"), "answer.json")
    settings = RepoSettings(root)
    commands = our_hook_commands(settings.shared, "Stop") or [HOOK_COMMAND]
    runner = commands[0].partition("(")[2].rpartition(" <&3 &)")[0] or hook_runner()
    # A repository set up before 0.9 names its invocation in the env block Claude Code exports.
    legacy = {k: v for k, v in {**settings_env(settings.shared), **settings_env(settings.local)}.items()
              if k in OUR_ENV_KEYS}
    env = {**os.environ, **legacy, "CLAUDE_PROJECT_DIR": root, ENV_PROBE: answer}
    try:
        # uvx may first have to fetch traces: allow it a minute.
        subprocess.run(["sh", "-c", runner], input=b'{"hook_event_name": "ClaudetracingProbe"}',
                       env=env, cwd=root, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        pass
    result = read_json_file(answer)
    shutil.rmtree(os.path.dirname(answer), ignore_errors=True)
    return result


def get_server_experiment(uri, env, name=None, experiment_id=None, timeout=10):
    """(HTTP status, body) of MLflow's experiments/get (by id) or get-by-name."""
    import urllib.parse
    query = ("get?experiment_id=" + urllib.parse.quote(experiment_id) if experiment_id
             else "get-by-name?experiment_name=" + urllib.parse.quote(name or ""))
    return mlflow_rest(uri, "GET", "experiments/" + query, env, timeout=timeout)


def experiment_tags(body):
    """The tags of an experiments/get answer, as a dict."""
    return {t["key"]: t.get("value", "") for t in body.get("experiment", {}).get("tags", [])}


def worker_trouble(answer):
    """What the hook's probe answer says about a worker that cannot upload, and its fix."""
    why = answer.get("problem") or f"the worker's Python ({answer.get('worker', answer['python'])}) has no mlflow"
    return (f"{why}, so turns will wait in the spool until a Python with mlflow runs it. "
            f"Fix: `{answer['fix']}`")


def write_local_hook(root, invocation):
    """How this machine's hook reaches traces, where the committed command cannot say it (a
    venv or uvx path); None removes the file."""
    path = os.path.join(root, LOCAL_HOOK_FILE)
    text = None if invocation is None else (
        "# Written by `traces init`: how Claude Code's hooks reach traces on this machine (not committed).\n"
        + invocation + "\n")
    try:
        with open(path, encoding="utf-8") as f:
            old = f.read()
    except OSError:
        old = None
    if text == old:
        return []
    if text is None:
        os.remove(path)
        return [f"removed {LOCAL_HOOK_FILE}"]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, text.encode(), 0o600)
    return [f"wrote {LOCAL_HOOK_FILE}"]


GITIGNORED = (LOCAL_CONFIG_FILE, LOCAL_HOOK_FILE)
GITIGNORE_HEADER = "# claudetracing: this machine's part of the tracing setup (paths, profile)"


def machine_hook_invocation(root, env, committed):
    """What the committed hook command runs on this machine: LOCAL_HOOK_FILE's line, else the
    invocation named in the command (or, before 0.9, in the env block)."""
    local_hook = os.path.join(root, LOCAL_HOOK_FILE)
    if os.path.isfile(local_hook):
        with open(local_hook, encoding="utf-8", errors="replace") as f:
            return (f.read().splitlines() or [""])[-1]
    return env.get(ENV_HOOK) or committed.partition("; else ")[2].partition("; fi")[0] or DEFAULT_INVOCATION


def last_error():
    """The newest error in the log, unless an upload has succeeded since."""
    error = None
    try:
        with open(os.path.join(traces_home(), "traces.log"), encoding="utf-8", errors="replace") as f:
            for line in f:
                if " ERROR " in line:
                    error = line.rstrip("\n")
                elif ": uploaded " in line:
                    error = None
    except OSError:
        return None
    return error


def shared_settings_edit(change):
    """Save change(current settings) — {name: value or None} — as the team's settings; used by
    enrichment and redact."""
    settings = RepoSettings(repo_root(os.getcwd()))
    settings.update(shared=change(settings.env))
    for line in settings.save():
        print(line)
    return settings


def parse_enrichments(text):
    """--enrichments git,tokens (or none): the names, checked against the registry."""
    names = [n.strip() for n in text.split(",") if n.strip() and n.strip() != "none"]
    unknown = [n for n in names if n not in ENRICHMENTS]
    if unknown:
        raise TracesError(f"unknown enrichment {', '.join(unknown)}; available: {', '.join(ENRICHMENTS)}")
    return [n for n in ENRICHMENTS if n in names]


def team_enrichments_tag(env):
    """The experiment's `claudetracing.enrichments` tag, for `traces status`; None when there is
    none or the backend cannot tell us quickly (status must stay fast and never fail on it)."""
    uri = env.get(ENV_URI) or ""
    experiment_id, name = env.get(ENV_EXPERIMENT_ID), env.get(ENV_EXPERIMENT)
    try:
        if is_http(uri):
            status, body = get_server_experiment(uri, env, name, experiment_id, timeout=3)
        elif backend_kind(uri) == "databricks":
            profile = uri.partition("://")[2] or env.get(ENV_PROFILE)
            w = databricks_client(5, profile=profile) if profile else databricks_client(5)
            query = {"experiment_id": experiment_id} if experiment_id else {"experiment_name": name or ""}
            body = w.api_client.do("GET", "/api/2.0/mlflow/experiments/" + ("get" if experiment_id else "get-by-name"),
                                   query=query)
            status = 200
        else:
            return None
    except Exception:  # noqa: BLE001 - TracesError, SDK errors, network: nothing to compare
        return None
    if status != 200:
        return None
    return experiment_tags(body).get(TAG_ENRICHMENTS)


def ask(question, default):
    """One interactive question; Enter (or the end of input) takes the default."""
    print(f"{question} [{default}]: ", end="", flush=True)
    line = sys.stdin.readline()
    if not line:
        print()
    return line.strip() or default


# doctor's test turn, which each agent writes in its own format (its `doctor_turn`)
DOCTOR_PROMPT = "traces doctor: a test turn, removed once it has arrived"
DOCTOR_ANSWER = "traces doctor: the test turn's answer"
DOCTOR_MODEL = "<synthetic>"


def doctor_stamp():
    """Now, as the agents write time: ISO 8601 in UTC with milliseconds."""
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def jsonl(records):
    """Records as the bytes of a JSON-lines session file."""
    return "".join(json.dumps(record) + "\n" for record in records).encode()


###############################################################################
# Claude Code setup: its hooks in .claude/settings.json
###############################################################################

# init writes Claude Code's hooks with the rest of the settings (wire_settings, RepoSettings);
# here is what status and doctor need of them.

def claude_status(root):
    """Our hooks in the settings Claude Code reads here, once every one of them is there."""
    try:
        shared = RepoSettings(root).shared
    except TracesError:
        return None             # status says what is wrong with the file
    if not all(our_hook_commands(shared, event) for event in HOOK_EVENTS):
        return None
    return {"hooks": list(HOOK_EVENTS), "hooks_file": SETTINGS_FILE}


def doctor_transcript(folder, session, cwd):
    """The smallest turn the engine takes: a prompt and an answer, shaped like Claude Code's lines."""
    base = {"isSidechain": False, "timestamp": doctor_stamp(), "cwd": cwd, "sessionId": session, "version": "traces-doctor"}
    lines = [
        {**base, "parentUuid": None, "type": "user", "uuid": session + "-1",
         "message": {"role": "user", "content": DOCTOR_PROMPT}},
        {**base, "parentUuid": session + "-1", "type": "assistant", "uuid": session + "-2",
         "message": {"id": "msg_" + session, "type": "message", "role": "assistant", "model": DOCTOR_MODEL,
                     "content": [{"type": "text", "text": DOCTOR_ANSWER}], "stop_reason": "end_turn",
                     "usage": {"input_tokens": 0, "output_tokens": 0}}},
    ]
    path = os.path.join(folder, session + ".jsonl")
    write_atomic(path, jsonl(lines))
    return path


def claude_doctor_turn(root, session):
    """Claude Code's test turn: a transcript under its projects folder (the worker reads Claude
    Code's nowhere else), and its Stop and SessionEnd hooks run as Claude Code runs them: the
    committed command by `sh -c`, CLAUDE_PROJECT_DIR set, the settings' env blocks exported."""
    import tempfile
    settings = RepoSettings(root)
    exported = {}
    for data in (load_settings(os.path.join(os.path.expanduser("~"), SETTINGS_FILE))[0], settings.shared, settings.local):
        exported.update(settings_env(data))
    env = {**os.environ, **exported, "CLAUDE_PROJECT_DIR": root}
    os.makedirs(claude_projects_dir(), mode=0o700, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="traces-doctor-", dir=claude_projects_dir())
    hook_input = {"session_id": session, "transcript_path": doctor_transcript(folder, session, root), "cwd": root,
                  "permission_mode": "default"}
    return folder, [(event, ["sh", "-c", our_hook_commands(settings.shared, event)[0]], env,
                     {**hook_input, "hook_event_name": event, **extra})
                    for event, extra in (("Stop", {"stop_hook_active": False, "last_assistant_message": DOCTOR_ANSWER}),
                                         ("SessionEnd", {"reason": "other"}))]


AGENTS["claude"].update(binary="claude", status=claude_status,
                        status_row=lambda info, paint: f"{info['hooks_file']} ({', '.join(info['hooks'])})",
                        names_repository=lambda root: claude_status(root) is not None, doctor_turn=claude_doctor_turn)


###############################################################################
# Codex CLI setup: its hooks in CODEX_HOME, and their trust
###############################################################################

# Codex hooks live in CODEX_HOME/hooks.json, the user's own, not in the repository's
# .codex/hooks.json: Codex 0.169 loads a project's .codex folder only for projects the user
# marked trusted (`projects."<path>".trust_level`), a grant that also enables the project's MCP
# servers and other config, and says "Untrusted project-local configuration is disabled"
# otherwise. So each traced repository gets one Stop and one SessionEnd hook there, whose
# command names the repository; `traces hook` acts only for sessions whose cwd is inside it.
# Codex runs an unmanaged hook only once its identity is trusted: a
# [hooks.state."<hooks.json>:<event>:<group>:<handler>"] table in CODEX_HOME/config.toml whose
# trusted_hash is the sha256 of the hook's normalized identity (codex_trust_hash).
CODEX_HOOK_EVENTS = {"Stop": ("stop", 30), "SessionEnd": ("session_end", 3)}   # label, timeout (SessionEnd: at most 3)
# Where a budget is set, one more hook per repository runs before each prompt (Codex reads the
# output Claude Code's UserPromptSubmit hook prints: codex-rs/hooks/src/events/user_prompt_submit.rs).
CODEX_BUDGET_EVENT, CODEX_BUDGET_LABEL, CODEX_BUDGET_TIMEOUT = BUDGET_EVENT, "user_prompt_submit", 5


def codex_home():
    return os.path.dirname(codex_sessions_dir())


def codex_hook_command(root, invocation=DEFAULT_INVOCATION):
    """The hook command for one repository. The variables are the hook's own shell's: nothing
    is added to Codex's environment. CLAUDE_PROJECT_DIR lets hook_runner find the repository's
    LOCAL_HOOK_FILE, as under Claude Code."""
    import shlex
    return f"export CLAUDE_PROJECT_DIR={shlex.quote(root)} {ENV_AGENT}=codex; " + hook_command(invocation)


def codex_trust_hash(event, handler):
    """What Codex expects as trusted_hash (codex-rs hooks discovery): sha256 of the compact,
    key-sorted JSON of {event_name, hooks: [the handler with its defaults filled in]}."""
    import hashlib
    label = CODEX_BUDGET_LABEL if event == CODEX_BUDGET_EVENT else CODEX_HOOK_EVENTS[event][0]
    timeout = max(int(handler.get("timeout", 600)), 1)
    timeout = min(timeout, 3) if event == "SessionEnd" else timeout
    normalized = {"type": "command", "command": handler["command"], "timeout": timeout,
                  "async": bool(handler.get("async", False))}
    identity = {"event_name": label, "hooks": [normalized]}
    data = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(data.encode()).hexdigest()


def read_codex_files():
    """(hooks.json as a dict, config.toml's text, its parsed form); refuses files it cannot
    edit safely before anything is written."""
    import tomllib
    hooks_path, config_path = os.path.join(codex_home(), "hooks.json"), os.path.join(codex_home(), "config.toml")
    try:
        with open(hooks_path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raw = b""
    except OSError as e:
        raise TracesError(f"cannot read {hooks_path}: {e.strerror}") from None
    try:
        hooks = json.loads(raw) if raw.strip() else {}
    except ValueError:                  # not to be replaced by a file holding only ours
        raise TracesError(f"{hooks_path} is not valid JSON: fix or move it, then run init again") from None
    if not isinstance(hooks, dict) or not isinstance(hooks.get("hooks", {}), dict):
        raise TracesError(f"{hooks_path} is not a JSON object with a `hooks` object: fix or move it, then run init again")
    try:
        with open(config_path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TracesError(f"cannot parse {config_path} ({e}): fix it, then run init again") from None
    return hooks, text, parsed


def codex_ours(hooks, root=None):
    """{trust key: (event, handler)} of our hooks in hooks.json (for one repository, or all)."""
    import shlex
    path = os.path.abspath(os.path.join(codex_home(), "hooks.json"))
    found = {}
    for event, (label, _) in CODEX_HOOK_EVENTS.items():
        for g, group in enumerate(hooks.get("hooks", {}).get(event) or []):
            for h, handler in enumerate(group.get("hooks", []) if isinstance(group, dict) else []):
                command = handler.get("command") if isinstance(handler, dict) else None
                if is_our_hook(command) and ENV_AGENT in command and (
                        root is None or f"CLAUDE_PROJECT_DIR={shlex.quote(root)} " in command):
                    found[f"{path}:{label}:{g}:{h}"] = (event, handler)
    return found


def edit_codex_trust(text, parsed, drop, add):
    """config.toml's text without our trust tables `drop` and with `add` ({key: hash}); the
    rest as it was. Refuses (TracesError) when the result would not be exactly that."""
    import tomllib
    header = re.compile(r'^\s*\[\s*hooks\s*\.\s*state\s*\.\s*("(?:[^"\\]|\\.)*")\s*\]\s*(#.*)?$')
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        match = header.match(line)
        if match or line.lstrip().startswith("["):
            try:
                skipping = bool(match) and json.loads(match.group(1)) in set(drop) | set(add)
            except ValueError:
                skipping = False
            while skipping and out and not out[-1].strip():
                out.pop()                       # the blank line that set our table apart
        if not skipping:
            out.append(line)
    new = "".join(out)
    if add:
        new = new.rstrip("\n") + ("\n" if new.strip() else "") + "".join(
            f"\n[hooks.state.{json.dumps(key)}]\ntrusted_hash = {json.dumps(value)}\n" for key, value in add.items())
    expected = json.loads(json.dumps(parsed))
    state = expected.setdefault("hooks", {}).setdefault("state", {})
    for key in set(drop) | set(add):
        state.pop(key, None)
    state.update({key: {"trusted_hash": value} for key, value in add.items()})
    if not state:
        del expected["hooks"]["state"]
    if not expected["hooks"]:
        del expected["hooks"]
    try:
        ok = tomllib.loads(new) == expected
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok:
        raise TracesError(f"cannot edit the hook trust entries of {os.path.join(codex_home(), 'config.toml')} "
                          "safely (they are not [hooks.state.\"...\"] tables of their own): edit it by hand")
    return new


def wire_codex(root, invocation, trust):
    """Add (or, invocation None, remove) this repository's Codex hooks and their trust entries:
    the lines to print. A hook already there is replaced in place, so that no other hook's trust
    key (which names its position) moves. trust False: the hooks without trust entries."""
    hooks, text, parsed = read_codex_files()
    before = codex_ours(hooks, root)
    table = hooks.setdefault("hooks", {})
    for event in CODEX_HOOK_EVENTS:
        groups = table.get(event) or []
        mine = [(g, h) for g, group in enumerate(groups) for h, handler in enumerate(group.get("hooks", []))
                if (event, handler) in before.values()]
        handler = {"type": "command", "command": codex_hook_command(root, invocation or DEFAULT_INVOCATION),
                   "timeout": CODEX_HOOK_EVENTS[event][1]}
        for n, (g, h) in enumerate(reversed(mine)):
            if invocation is not None and n == len(mine) - 1:
                groups[g]["hooks"][h] = handler
            else:
                del groups[g]["hooks"][h]
        groups = [g for g in groups if g.get("hooks")]
        if invocation is not None and not mine:
            groups.append({"hooks": [handler]})
        if groups:
            table[event] = groups
        else:
            table.pop(event, None)
    if not table:
        del hooks["hooks"]
    after = codex_ours(hooks, root)
    state = parsed.get("hooks", {}).get("state", {}) if isinstance(parsed.get("hooks"), dict) else {}
    wanted = {key: codex_trust_hash(*pair) for key, pair in after.items()}
    trusted = all(isinstance(state.get(k), dict) and state[k].get("trusted_hash") == v for k, v in wanted.items())
    drop = [k for k in before if k not in after or (trust and not trusted)]
    new_text = edit_codex_trust(text, parsed, drop, wanted if trust and not trusted else {})
    written = []
    hooks_path = os.path.join(codex_home(), "hooks.json")
    old_hooks = read_json_file(hooks_path, None) if os.path.exists(hooks_path) else None
    if not hooks and old_hooks:
        os.remove(hooks_path)                   # it held only ours
        written.append(f"removed {hooks_path}")
    elif hooks != (old_hooks if isinstance(old_hooks, dict) else {}):
        os.makedirs(codex_home(), exist_ok=True)
        write_atomic(hooks_path, (json.dumps(hooks, indent=2) + "\n").encode())
        written.append(f"{'wrote' if invocation else 'removed'} this repository's Codex hooks (Stop, SessionEnd) "
                       f"in {hooks_path}")
    if new_text != text:
        write_atomic(os.path.join(codex_home(), "config.toml"), new_text.encode())
        written.append(f"{'trusted' if invocation and trust else 'removed the trust entries of'} those hooks in "
                       f"{os.path.join(codex_home(), 'config.toml')}")
    return written


def codex_budget_command(root):
    """The budget hook for one repository: BUDGET_COMMAND for sessions whose cwd is the
    repository or inside it, nothing for any other (a hook in CODEX_HOME runs for every
    repository). Starts no Python: the shell itself takes cwd from the input (compact JSON, in
    which the prompt's quotes are escaped, so the first "cwd":" is Codex's) and resolves its
    symbolic links (cd, pwd -P); Codex 0.169 runs it with /bin/bash -c. It names the repository
    as our other Codex hooks do, so codex_names_repository finds it."""
    import shlex
    return (f"IFS= read -r i; c=${{i#*\\\"cwd\\\":\\\"}}; c=${{c%%\\\"*}}; "
            f"[ -n \"$c\" ] && c=$(cd \"$c\" 2>/dev/null && pwd -P); case $c/ in {shlex.quote(os.path.realpath(root))}/*) "
            f"printf '%s\\n' \"$i\" | {{ CLAUDE_PROJECT_DIR={shlex.quote(root)} {ENV_AGENT}=codex; {BUDGET_COMMAND}; }};; "
            "esac; true")


def codex_budget_spots(hooks, root):
    """[(group, handler)]: where hooks.json holds this repository's budget hook."""
    import shlex
    marker = f"CLAUDE_PROJECT_DIR={shlex.quote(root)} {ENV_AGENT}=codex;"
    groups = hooks.get("hooks", {}).get(CODEX_BUDGET_EVENT) or []
    return [(g, h) for g, group in enumerate(groups) if isinstance(group, dict)
            for h, handler in enumerate(group.get("hooks") or [])
            if isinstance(handler, dict) and is_our_hook(handler.get("command")) and marker in handler["command"]]


def wire_codex_budget(root, on, trust):
    """Add this repository's budget hook (on, where Codex is wired for it) or take it away, with
    its trust entry (trust: whether the user agreed to trust our hooks): the lines to print.
    A hook already there is replaced in place, as in wire_codex, so that no trust key moves."""
    if not codex_names_repository(root):
        return []                       # neither wired for Codex nor holding our budget hook
    hooks, text, parsed = read_codex_files()
    original = json.loads(json.dumps(hooks))
    path = os.path.abspath(os.path.join(codex_home(), "hooks.json"))
    mine = codex_budget_spots(hooks, root)
    groups = hooks.setdefault("hooks", {}).get(CODEX_BUDGET_EVENT) or []
    wanted = on and bool(codex_ours(hooks, root))
    if not mine and not wanted:
        return []
    handler = {"type": "command", "command": codex_budget_command(root), "timeout": CODEX_BUDGET_TIMEOUT}
    before = [f"{path}:{CODEX_BUDGET_LABEL}:{g}:{h}" for g, h in mine]
    for n, (g, h) in enumerate(reversed(mine)):
        if wanted and n == len(mine) - 1:
            groups[g]["hooks"][h] = handler
        else:
            del groups[g]["hooks"][h]
    groups = [group for group in groups if not isinstance(group, dict) or group.get("hooks")]
    if wanted and not mine:
        groups.append({"hooks": [handler]})
    hooks["hooks"][CODEX_BUDGET_EVENT] = groups
    if not groups:
        del hooks["hooks"][CODEX_BUDGET_EVENT]
    key = (before[0] if mine else f"{path}:{CODEX_BUDGET_LABEL}:{len(groups) - 1}:0") if wanted else None
    state = parsed.get("hooks", {}).get("state", {}) if isinstance(parsed.get("hooks"), dict) else {}
    trusted = key is not None and (state.get(key) or {}).get("trusted_hash") == codex_trust_hash(CODEX_BUDGET_EVENT, handler)
    add = {key: codex_trust_hash(CODEX_BUDGET_EVENT, handler)} if wanted and trust and not trusted else {}
    new_text = edit_codex_trust(text, parsed, [k for k in before if k != key], add)
    written = []
    if hooks != original:
        write_atomic(path, (json.dumps(hooks, indent=2) + "\n").encode())
        written.append(f"{'wrote' if wanted else 'removed'} this repository's Codex budget hook "
                       f"({CODEX_BUDGET_EVENT}) {'in' if wanted else 'from'} {path}")
    if new_text != text:
        write_atomic(os.path.join(codex_home(), "config.toml"), new_text.encode())
        written.append(f"{'trusted it' if add else 'removed its trust entry'} in {os.path.join(codex_home(), 'config.toml')}")
    if wanted and not trusted and not add:
        written.append("Codex skips the budget hook until it is trusted: run `traces init --agent codex --yes`, "
                       "or accept it in Codex (/hooks).")
    return written


def codex_wiring(root):
    """What status shows: (hooks wired for this repository, all of them trusted)."""
    try:
        hooks, _, parsed = read_codex_files()
    except TracesError:
        return 0, False
    ours = codex_ours(hooks, root)
    state = parsed.get("hooks", {}).get("state", {}) if isinstance(parsed.get("hooks"), dict) else {}
    trusted = all(isinstance(state.get(k), dict) and state[k].get("trusted_hash") == codex_trust_hash(*pair)
                  for k, pair in ours.items())
    return len(ours), bool(ours) and trusted


def codex_names_repository(root):
    """Whether CODEX_HOME/hooks.json names this repository in one of our hook commands, read as
    text: a file that does not parse can still say that the repository is wired for Codex."""
    import shlex
    try:
        with open(os.path.join(codex_home(), "hooks.json"), encoding="utf-8", errors="replace") as f:
            return f"CLAUDE_PROJECT_DIR={shlex.quote(root)} {ENV_AGENT}=codex;" in f.read()
    except OSError:
        return False


def codex_init(root, invocation, yes):
    """Wire Codex's hooks for this repository; trust them when the user agrees."""
    trust = yes or ask("Codex runs hooks only once trusted: trust ours in "
                       f"{os.path.join(codex_home(), 'config.toml')} (y/n)?", "y").lower() in ("y", "yes")
    written = wire_codex(root, invocation, trust) + wire_codex_budget(root, bool(project_budget(root)), trust)
    if not trust:
        written.append("Codex skips these hooks until they are trusted: run `traces init --agent codex --yes`, "
                       "or accept them in Codex (/hooks).")
    return written


def codex_unwire(root):
    """disable: this repository's Codex hooks and their trust entries out; files that cannot be
    read are left as they are (doctor says what is wrong with them)."""
    try:
        read_codex_files()
    except TracesError:
        return []
    return wire_codex_budget(root, False, False) + (wire_codex(root, None, False) if codex_wiring(root)[0] else [])


def codex_init_check(root, args):
    if args.user_wide:
        raise TracesError("--user-wide is for Claude Code; Codex is wired per repository")
    read_codex_files()              # refuses a hooks.json or config.toml it cannot edit safely


def codex_status(root):
    wired, trusted = codex_wiring(root)
    return {"hooks": wired, "trusted": trusted, "hooks_file": os.path.join(codex_home(), "hooks.json")} if wired else None


def codex_status_row(info, paint):
    return f"{info['hooks_file']} " + ("(trusted)" if info["trusted"] else paint.bad(
        "(not trusted: Codex skips them; run `traces init --agent codex`)"))


def codex_doctor_turn(root, session):
    """Codex's test turn: a rollout in its sessions folder, one turn from task_started to
    task_complete, and our Stop and SessionEnd hooks of CODEX_HOME/hooks.json run as Codex runs
    them: by `sh -c` in the project, with Codex's environment and its hook input."""
    import tempfile
    os.makedirs(codex_sessions_dir(), mode=0o700, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="traces-doctor-", dir=codex_sessions_dir())
    stamp, turn = doctor_stamp(), session + "-turn"
    rollout = os.path.join(folder, f"rollout-{stamp[:19].replace(':', '-')}-{session}.jsonl")
    write_atomic(rollout, jsonl({"timestamp": stamp, "type": kind, "payload": payload} for kind, payload in (
        ("session_meta", {"id": session, "timestamp": stamp, "cwd": root, "originator": "traces_doctor",
                          "cli_version": "traces-doctor"}),
        ("event_msg", {"type": "task_started", "turn_id": turn}),
        ("turn_context", {"turn_id": turn, "cwd": root, "model": DOCTOR_MODEL}),
        ("response_item", {"type": "message", "role": "user", "content": [{"type": "input_text", "text": DOCTOR_PROMPT}]}),
        ("response_item", {"type": "message", "role": "assistant",
                           "content": [{"type": "output_text", "text": DOCTOR_ANSWER}]}),
        ("token_usage_record", {"turn_id": turn, "response_id": "resp_" + session,
                                "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}}),
        ("event_msg", {"type": "task_complete", "turn_id": turn, "last_agent_message": DOCTOR_ANSWER}))))
    commands = {event: handler["command"] for event, handler in codex_ours(read_codex_files()[0], root).values()}
    hook_input = {"session_id": session, "transcript_path": rollout, "cwd": root}
    return folder, [(event, ["sh", "-c", commands[event]], dict(os.environ), {**hook_input, "hook_event_name": event, **extra})
                    for event, extra in (("Stop", {"turn_id": turn, "model": DOCTOR_MODEL, "permission_mode": "default",
                                                   "stop_hook_active": False, "last_assistant_message": DOCTOR_ANSWER}),
                                         ("SessionEnd", {"reason": "other"}))]


AGENTS["codex"].update(binary="codex", init_check=codex_init_check, wire=codex_init, status=codex_status,
                       status_row=codex_status_row,
                       unwire=codex_unwire, wire_budget=lambda root, on: wire_codex_budget(root, on, codex_wiring(root)[1]),
                       names_repository=codex_names_repository, doctor_turn=codex_doctor_turn)


###############################################################################
# Gemini CLI setup: its hooks in the repository's .gemini/settings.json, and its folder trust
###############################################################################

# Gemini CLI's hooks go in the repository's .gemini/settings.json, committed with it like
# Claude Code's .claude/settings.json, not in the user's ~/.gemini/settings.json: Gemini CLI
# 0.61 runs no hook at all in a folder it does not trust (the user's hooks no more than the
# project's; folder trust is on by default), so the user's file would gain nothing but one entry
# per traced repository. Gemini CLI runs a hook with CLAUDE_PROJECT_DIR set to the project
# folder, which hook_runner reads as under Claude Code; it shows a new project hook once
# ("hooks have been detected in this workspace") and then remembers it. Trusting a folder is
# the user's own decision, made in Gemini CLI (it asks the first time it starts there): init
# and doctor say when it is missing and what to do, and never write trustedFolders.json.
GEMINI_SETTINGS_FILE = os.path.join(".gemini", "settings.json")
GEMINI_HOOK_EVENTS = ("AfterAgent", "SessionEnd")
GEMINI_HOOK_TIMEOUT_MS = 30000
GEMINI_TRUST_FIX = ("start `gemini` in this folder and trust it when asked (or /permissions); headless runs "
                    "(`gemini -p`) need --skip-trust or GEMINI_CLI_TRUST_WORKSPACE=true")


def gemini_hook_command(invocation=DEFAULT_INVOCATION):
    """Claude Code's hook command, but for one thing: Gemini CLI replaces the text
    `$CLAUDE_PROJECT_DIR` in a command by the folder shell-quoted, which inside our double
    quotes leaves the quotes in the path (a folder with a space is then not found); the braced
    form is left to the shell, which reads the same variable from the hook's environment."""
    return f"export {ENV_AGENT}=gemini; " + hook_command(invocation).replace("$CLAUDE_PROJECT_DIR", "${CLAUDE_PROJECT_DIR}")


def load_gemini_settings(path):
    """(data, text) of a Gemini CLI settings file, ({}, None) if there is none; refuses one we
    could not rewrite as it was (Gemini CLI allows comments in it, which a rewrite would lose)."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return {}, None
    except OSError as e:
        raise TracesError(f"cannot read {path}: {e.strerror}") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        raise TracesError(f"{path} is not plain JSON (comments?): traces cannot add its hooks without losing "
                          "something; add them by hand or remove the comments, then run init again") from None
    if not isinstance(data, dict) or not isinstance(data.get("hooks", {}), dict):
        raise TracesError(f"{path} is not a JSON object with a `hooks` object: fix it, then run init again")
    return data, text


def gemini_our_hooks(data):
    """{event: [our commands]} in a Gemini CLI settings object."""
    hooks = data.get("hooks") or {}
    return {event: [h.get("command") for g in hooks.get(event) or [] if isinstance(g, dict)
                    for h in g.get("hooks") or [] if isinstance(h, dict) and is_our_hook(h.get("command"))]
            for event in GEMINI_HOOK_EVENTS}


def wire_gemini(root, invocation):
    """Add (or, invocation None, remove) our hooks in the repository's .gemini/settings.json,
    changing nothing else in it: the lines to print."""
    path = os.path.join(root, GEMINI_SETTINGS_FILE)
    data, text = load_gemini_settings(path)
    wanted = gemini_hook_command(invocation) if invocation else None
    if all(found == ([wanted] if wanted else []) for found in gemini_our_hooks(data).values()):
        return []
    hooks = data.get("hooks") or {}
    for event in GEMINI_HOOK_EVENTS:
        groups = [g if not isinstance(g, dict) or not isinstance(g.get("hooks"), list) else
                  {**g, "hooks": [h for h in g["hooks"] if not (isinstance(h, dict) and is_our_hook(h.get("command")))]}
                  for g in hooks.get(event) or []]
        groups = [g for g in groups if not isinstance(g, dict) or g.get("hooks") != []]
        if wanted:
            groups.append({"matcher": "*", "hooks": [{"type": "command", "command": wanted,
                                                      "timeout": GEMINI_HOOK_TIMEOUT_MS}]})
        if groups:
            hooks[event] = groups
        else:
            hooks.pop(event, None)
    if hooks:
        data["hooks"] = hooks
    else:
        data.pop("hooks", None)
    if not data and text is not None and not wanted:
        os.remove(path)                         # it held only ours
        if not os.listdir(os.path.dirname(path)):
            os.rmdir(os.path.dirname(path))
        return [f"removed {GEMINI_SETTINGS_FILE}"]
    save_settings(path, data, None, text)
    return [f"{'wrote' if wanted else 'removed'} the Gemini CLI hooks ({', '.join(GEMINI_HOOK_EVENTS)}) "
            f"{'in' if wanted else 'from'} {GEMINI_SETTINGS_FILE}"]


GEMINI_BUDGET_EVENT = "BeforeAgent"      # runs before each prompt; its output warns or refuses it, as Claude Code's


def wire_gemini_budget(root, on):
    """Run the budget hook before each prompt in a repository whose Gemini CLI is wired (on), or
    take it away: the lines to print. The same command and files serve Claude Code."""
    path = os.path.join(root, GEMINI_SETTINGS_FILE)
    data, text = load_gemini_settings(path)
    hooks = data.get("hooks") or {}
    groups = hooks.get(GEMINI_BUDGET_EVENT) or []
    kept = [g for g in groups if not (isinstance(g, dict) and any(isinstance(h, dict) and is_our_hook(h.get("command"))
                                                                   for h in g.get("hooks") or []))]
    if on and any(gemini_our_hooks(data).values()):
        kept.append({"matcher": "*", "hooks": [{"type": "command", "command": BUDGET_COMMAND, "timeout": 5000}]})
    if kept == groups:
        return []
    if kept:
        hooks[GEMINI_BUDGET_EVENT] = kept
    else:
        hooks.pop(GEMINI_BUDGET_EVENT, None)
    data["hooks"] = hooks
    save_settings(path, data, None, text)
    return [f"{'wrote' if on else 'removed'} the Gemini CLI budget hook ({GEMINI_BUDGET_EVENT}) "
            f"{'in' if on else 'from'} {GEMINI_SETTINGS_FILE}"]


def gemini_trust(root):
    """(trusted: True, False or None when Gemini CLI will ask, why), as Gemini CLI 0.61 decides
    in a folder from the user's settings and trustedFolders.json (the longest rule that holds
    the folder wins; TRUST_PARENT trusts the rule's parent)."""
    settings = read_json_file(os.path.join(gemini_dir(), "settings.json"), {})
    security = settings.get("security") if isinstance(settings, dict) and isinstance(settings.get("security"), dict) else {}
    if isinstance(security.get("folderTrust"), dict) and security["folderTrust"].get("enabled") is False:
        return True, "folder trust is off in ~/.gemini/settings.json"
    path = os.environ.get("GEMINI_CLI_TRUSTED_FOLDERS_PATH") or os.path.join(gemini_dir(), "trustedFolders.json")
    rules = read_json_file(path, {})
    here, best, level = os.path.realpath(root), -1, None
    for rule, value in (rules.items() if isinstance(rules, dict) else []):
        folder = os.path.dirname(rule) if value == "TRUST_PARENT" else rule
        if inside(here, os.path.realpath(folder)) and len(rule) > best:
            best, level = len(rule), value
    if level in ("TRUST_FOLDER", "TRUST_PARENT"):
        return True, f"trusted in {path}"
    if level == "DO_NOT_TRUST":
        return False, f"{path} says not to trust this folder"
    return None, "Gemini CLI has not been told to trust this folder"


def gemini_wiring(root):
    """What status shows: (events with our hook in .gemini/settings.json, trusted, why)."""
    try:
        data, _ = load_gemini_settings(os.path.join(root, GEMINI_SETTINGS_FILE))
    except TracesError:
        return 0, False, "unreadable"
    wired = sum(1 for found in gemini_our_hooks(data).values() if found)
    return (wired, *gemini_trust(root)) if wired else (0, False, "")


def gemini_init_check(root, args):
    if args.user_wide:
        raise TracesError("--user-wide is for Claude Code; Gemini CLI is wired per repository")
    load_gemini_settings(os.path.join(root, GEMINI_SETTINGS_FILE))     # refuses one it cannot rewrite as it was


def gemini_init(root, invocation, yes):
    """Wire Gemini CLI's hooks for this repository; say whether Gemini CLI trusts the folder
    (it runs no hooks where it does not), never trusting it on the user's behalf (yes or not)."""
    written = wire_gemini(root, invocation) + wire_gemini_budget(root, bool(project_budget(root)))
    trusted, why = gemini_trust(root)
    if not trusted:
        written.append(f"Gemini CLI runs no hooks in this folder yet ({why}): {GEMINI_TRUST_FIX}.")
    return written


def gemini_status(root):
    wired, trusted, why = gemini_wiring(root)
    return {"hooks": wired, "trusted": bool(trusted), "trust": why, "hooks_file": GEMINI_SETTINGS_FILE} \
        if wired else None


def gemini_status_row(info, paint):
    return f"{info['hooks_file']} " + ("(folder trusted)" if info["trusted"] else paint.bad(
        f"(Gemini CLI runs none of them here: {info['trust']}; {GEMINI_TRUST_FIX})"))


def gemini_doctor_turn(root, session):
    """Gemini CLI's test turn: a chat in a project folder of its own under ~/.gemini/tmp (whose
    .project_root names the project, as Gemini CLI's do), and our AfterAgent and SessionEnd hooks
    of .gemini/settings.json run as Gemini CLI runs them: by `bash -c` in the project, the
    variables it names in a command replaced, those it adds to the environment set, its input."""
    import hashlib
    import shlex
    import tempfile
    os.makedirs(gemini_sessions_dir(), mode=0o700, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="traces-doctor-", dir=gemini_sessions_dir())
    write_atomic(os.path.join(folder, ".project_root"), root.encode())
    stamp = doctor_stamp()
    chat = os.path.join(folder, "chats", f"session-{stamp[:16].replace(':', '-')}-{session[-8:]}.jsonl")
    os.makedirs(os.path.dirname(chat))
    write_atomic(chat, jsonl([
        {"sessionId": session, "projectHash": hashlib.sha256(os.path.realpath(root).encode()).hexdigest(),
         "startTime": stamp, "lastUpdated": stamp, "kind": "main"},
        {"id": session + "-1", "timestamp": stamp, "type": "user", "content": [{"text": DOCTOR_PROMPT}]},
        {"id": session + "-2", "timestamp": stamp, "type": "gemini", "content": DOCTOR_ANSWER, "model": DOCTOR_MODEL,
         "tokens": {"input": 0, "output": 0, "cached": 0, "thoughts": 0, "tool": 0, "total": 0}}]))
    added = {"GEMINI_PROJECT_DIR": root, "GEMINI_PLANS_DIR": os.path.join(folder, "plans"), "GEMINI_CWD": root,
             "GEMINI_SESSION_ID": session, "CLAUDE_PROJECT_DIR": root}
    hooks = []
    for event, commands in gemini_our_hooks(load_gemini_settings(os.path.join(root, GEMINI_SETTINGS_FILE))[0]).items():
        command = commands[0]
        for name in ("GEMINI_PROJECT_DIR", "GEMINI_CWD", "GEMINI_PLANS_DIR", "GEMINI_SESSION_ID", "CLAUDE_PROJECT_DIR"):
            command = command.replace("$" + name, shlex.quote(added[name]))
        extra = {"prompt": DOCTOR_PROMPT, "prompt_response": DOCTOR_ANSWER, "stop_hook_active": False} \
            if event == "AfterAgent" else {"reason": "exit"}
        hooks.append((AGENTS["gemini"]["hook_events"].get(event, event), ["bash", "-c", command], {**os.environ, **added},
                      {"session_id": session, "transcript_path": chat, "cwd": root, "hook_event_name": event,
                       "timestamp": stamp, **extra}))
    return folder, hooks


AGENTS["gemini"].update(binary="gemini", init_check=gemini_init_check, wire=gemini_init, status=gemini_status,
                        status_row=gemini_status_row,
                        unwire=lambda root: wire_gemini_budget(root, False) + (
                            wire_gemini(root, None) if gemini_wiring(root)[0] else []),
                        wire_budget=wire_gemini_budget,
                        names_repository=lambda root: bool(gemini_wiring(root)[0]), doctor_turn=gemini_doctor_turn)


###############################################################################
# Copilot CLI setup: its hooks in ~/.copilot/hooks, one file per repository
###############################################################################

# Copilot CLI's hooks go in the user's ~/.copilot/hooks, not in the repository's .github/hooks:
# Copilot 1.0.102 loads a repository's hook files only in a folder trusted for that run
# (`copilot -p` needs --trust-folder or COPILOT_ALLOW_ALL=true, a grant that also lets the
# repository's other configuration act), while the personal folder always loads. So each
# traced repository gets one file of ours there, claudetracing-<digest of its path>.json, in
# Copilot's own format (agentStop, sessionEnd), whose commands name the repository:
# `traces hook` acts only for sessions that run inside it (copilot_hook_job). Nothing else of
# the user's changes; disable removes our hooks from that file (and the file, once empty).
COPILOT_HOOK_EVENTS = {"agentStop": 30, "sessionEnd": 5}         # event: timeoutSec


def copilot_hook_file(root):
    import hashlib
    home = os.path.dirname(copilot_sessions_dir())
    return os.path.join(home, "hooks", f"claudetracing-{hashlib.sha256(root.encode()).hexdigest()[:12]}.json")


def copilot_hook_command(root, invocation=DEFAULT_INVOCATION):
    """The hook command for one repository, as Codex's: the variables are the hook shell's own."""
    import shlex
    return f"export CLAUDE_PROJECT_DIR={shlex.quote(root)} {ENV_AGENT}=copilot; " + hook_command(invocation)


def read_copilot_hooks(root):
    """(the hook file as a dict, {event: [our commands for this repository]}); refuses a file it
    cannot edit safely."""
    import shlex
    path = copilot_hook_file(root)
    data = read_json_file(path, None) if os.path.exists(path) else {"version": 1, "hooks": {}}
    if not isinstance(data, dict) or not isinstance(data.get("hooks", {}), dict):
        raise TracesError(f"{path} is not a JSON object with a `hooks` object: fix or remove it, then run init again")
    mark = f"CLAUDE_PROJECT_DIR={shlex.quote(root)} {ENV_AGENT}=copilot;"
    ours = {event: [h["bash"] for h in data.get("hooks", {}).get(event) or [] if isinstance(h, dict)
                    and isinstance(h.get("bash"), str) and is_our_hook(h["bash"]) and mark in h["bash"]]
            for event in COPILOT_HOOK_EVENTS}
    return data, ours


def wire_copilot(root, invocation):
    """Write (or, invocation None, remove) this repository's Copilot hooks: the lines to print."""
    path = copilot_hook_file(root)
    data, ours = read_copilot_hooks(root)
    before = json.loads(json.dumps(data))
    hooks = data.setdefault("hooks", {})
    for event, timeout in COPILOT_HOOK_EVENTS.items():
        kept = [h for h in hooks.get(event) or [] if not (isinstance(h, dict) and h.get("bash") in ours[event])]
        if invocation is not None:
            kept.append({"type": "command", "bash": copilot_hook_command(root, invocation), "timeoutSec": timeout})
        if kept:
            hooks[event] = kept
        else:
            hooks.pop(event, None)
    if data == before:
        return []
    if not hooks and os.path.exists(path):
        os.remove(path)
        return [f"removed {path}"]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode())
    return [f"wrote this repository's Copilot CLI hooks (agentStop, sessionEnd) in {path}"]


def copilot_init_check(root, args):
    if args.user_wide:
        raise TracesError("--user-wide is for Claude Code; Copilot CLI is wired per repository")
    read_copilot_hooks(root)            # refuses a hook file it cannot edit safely


def copilot_status(root):
    try:
        _, ours = read_copilot_hooks(root)
    except TracesError:
        return None
    wired = [event for event, commands in ours.items() if commands]
    return {"hooks": wired, "hooks_file": copilot_hook_file(root)} if wired else None


def copilot_doctor_turn(root, session):
    """Copilot CLI's test turn: a session folder in session-state holding its events.jsonl, up
    to the agentStop hook's hook.start (which Copilot writes before it runs the hook), and our
    agentStop and sessionEnd hooks of ~/.copilot/hooks run as Copilot runs them: by `bash -c` in
    the project, COPILOT_CLI set, its own (camelCase) hook input."""
    folder = os.path.join(copilot_sessions_dir(), session)
    os.makedirs(folder, mode=0o700)
    stamp, now, events = doctor_stamp(), int(time.time() * 1000), os.path.join(folder, COPILOT_FILE)
    stop = {"sessionId": session, "timestamp": now, "cwd": root, "transcriptPath": events, "stopReason": "end_turn"}
    records = (("session.start", {"sessionId": session, "version": 1, "producer": "traces-doctor", "startTime": stamp,
                                  "copilotVersion": "traces-doctor", "context": {"cwd": root}}),
               ("user.message", {"content": DOCTOR_PROMPT}),
               ("session.usage_record", {"usage": {"model": DOCTOR_MODEL, "inputTokens": 0, "outputTokens": 0}}),
               ("assistant.message", {"content": DOCTOR_ANSWER, "toolRequests": []}),
               ("hook.start", {"hookType": "agentStop", "input": stop}))
    write_atomic(events, jsonl({"type": kind, "data": data, "id": f"{session}-{n}", "timestamp": stamp,
                                "parentId": f"{session}-{n - 1}" if n else None} for n, (kind, data) in enumerate(records)))
    _, ours = read_copilot_hooks(root)
    env = {**os.environ, "COPILOT_CLI": "1"}
    return folder, [("Stop", ["bash", "-c", ours["agentStop"][0]], env, stop),
                    ("SessionEnd", ["bash", "-c", ours["sessionEnd"][0]], env,
                     {"sessionId": session, "timestamp": now, "cwd": root, "reason": "complete"})]


AGENTS["copilot"].update(
    binary="copilot", init_check=copilot_init_check, wire=lambda root, invocation, yes: wire_copilot(root, invocation),
    unwire=lambda root: wire_copilot(root, None) if os.path.exists(copilot_hook_file(root)) else [],
    status=copilot_status, status_row=lambda info, paint: f"{info['hooks_file']} ({', '.join(info['hooks'])})",
    names_repository=lambda root: os.path.exists(copilot_hook_file(root)), doctor_turn=copilot_doctor_turn)


###############################################################################
# Checks (doctor): each part of the path a turn takes, and a test turn down it
###############################################################################

DOCTOR_SESSION_PREFIX = "doctor-"   # the test turn's session id: never mistaken for a user's turn
DOCTOR_WAIT_SECONDS = 60            # how long the test turn may take to reach the backend
STUCK_SECONDS = 10 * 60             # a job waiting longer than this is not just a slow upload
EXPORTED_PREFIXES = ("MLFLOW_", "DATABRICKS_", "CLAUDETRACING_", "TRACES_")
DOCTOR_CHECKS = {}                  # name → check(checkup): (ok, detail, fix); ok None: not checked;
                                    # None: no line (codex, for a repository not wired for Codex);
                                    # {line name: (ok, detail, fix)}: a line each (roundtrip, per agent)


def doctor_check(name):
    def register(func):
        DOCTOR_CHECKS[name] = func
        return func
    return register


class Checkup:
    """What the checks learn about a repository, for the checks after them."""

    def __init__(self, root):
        self.root = root
        self.env = hook_config(root)        # our settings as the hook and the worker read them
        self.settings = None                # RepoSettings, once they parse
        self.answer = None                  # the hook's answer to the probe, once it runs
        self.failed = set()


@doctor_check("settings")
def check_settings(checkup):
    try:
        settings = RepoSettings(checkup.root)
        load_settings(os.path.join(os.path.expanduser("~"), SETTINGS_FILE))
    except TracesError as e:
        return False, str(e).partition("; fix it and run")[0], "correct that file by hand, then `traces init`"
    checkup.settings = settings
    commands = {event: our_hook_commands(settings.shared, event) for event in HOOK_EVENTS}
    missing = [event for event, found in commands.items() if not found]
    alone = len(missing) == len(HOOK_EVENTS) and [
        agent["label"] for agent in AGENTS.values() if agent["names_repository"](checkup.root)]
    if alone:
        return True, f"{SETTINGS_FILE}: no Claude Code hooks (this repository is traced for {' and '.join(alone)} only)", None
    if missing:
        return False, f"{SETTINGS_FILE} has no traces hook for {', '.join(missing)}", "traces init"
    doubled = [event for event, found in commands.items() if len(found) > 1]
    if doubled:
        return False, f"{SETTINGS_FILE} runs traces more than once at {', '.join(doubled)}", "traces init"
    if any(marker in c for found in commands.values() for c in found for marker in RETIRED_HOOK_MARKERS):
        return False, f"{SETTINGS_FILE} holds hooks written before traces 0.9", "traces init"
    return True, f"{SETTINGS_FILE}: hooks for {', '.join(HOOK_EVENTS)}", None


def missing_program(invocation, root):
    """The program (or script) an invocation names that does not exist here, or None."""
    import shlex
    import shutil
    try:
        words = shlex.split(invocation.replace("${CLAUDE_PROJECT_DIR}", root).replace("$CLAUDE_PROJECT_DIR", root))
    except ValueError:
        return None
    cwd = root
    if words[:1] == ["cd"] and "&&" in words:
        cwd = words[1] if len(words) > 1 else cwd
        if not os.path.isdir(cwd):
            return cwd
        words = words[words.index("&&") + 1:]
    if not words:
        return None
    if shutil.which(words[0]) is None:
        return words[0]
    script = next((w for w in words[1:] if w.endswith(".py")), None)
    if script and not os.path.isfile(os.path.join(cwd, script)):
        return script
    return None


@doctor_check("hook")
def check_hook(checkup):
    if checkup.settings is None:
        return None, "not checked: the settings do not parse", None
    committed = (our_hook_commands(checkup.settings.shared, "Stop") or [HOOK_COMMAND])[0]
    invocation = machine_hook_invocation(checkup.root, checkup.settings.env, committed)
    answer = probe_hook(checkup.root)
    if answer:
        checkup.answer = answer
        return True, f"{invocation} → {answer.get('file')} (traces {answer.get('version')})", None
    missing = missing_program(invocation, checkup.root)
    detail = f"`{invocation}` does not reach traces"
    if missing:
        detail += f": {missing} does not exist" if os.sep in missing else f": {missing} is not on PATH"
    if os.path.isfile(os.path.join(checkup.root, LOCAL_HOOK_FILE)):
        detail += f" (from {LOCAL_HOOK_FILE})"
    return False, detail, "traces init (run by the traces the hook should use)"


@doctor_check("mlflow")
def check_mlflow(checkup):
    if checkup.answer is None:
        return None, "not checked: the hook does not run", None
    traces_file = checkup.answer.get("file") or ""
    python = checkup.env.get(ENV_PYTHON) or os.environ.get(ENV_PYTHON) or checkup.answer.get("python") or ""
    # The worker runs `python traces.py sync`: look from the script's folder, as it will.
    code = "import importlib.util, importlib.metadata as m; assert importlib.util.find_spec('mlflow'); print(m.version('mlflow'))"
    version = run([python, "-c", code], cwd=os.path.dirname(traces_file) or None, timeout=30)
    if version:
        return True, f"{python}: mlflow {version}", None
    import shutil
    if not shutil.which(python):
        return False, f"the worker's Python {python} does not exist", "traces init"
    return False, f"{python} has no mlflow: turns wait in the spool", checkup.answer.get("fix") or install_hint("mlflow", "init")


def experiment_reader(env, uri):
    """A client over the backend the worker writes to (no mlflow import for a server)."""
    if backend_kind(uri) == "server":
        return ServerStore(uri, env)
    if backend_kind(uri) == "databricks":
        return DatabricksStore(uri, env)
    path = uri.split(":///", 1)[-1]
    if not os.path.exists(path):
        raise TracesError(f"there is no local store at {path} yet")
    check_local_store(path)
    import sqlite3
    try:
        return LocalStore(path, uri)
    except (LookupError, sqlite3.Error):        # a layout the reader does not know: mlflow's own client
        quiet_mlflow()
        need_mlflow()
        return open_store(uri)


def find_test_experiment(reader, env):
    """The experiment the worker writes to, or None when it is not there (yet)."""
    if env.get(ENV_EXPERIMENT_ID):
        try:
            return reader.get_experiment(env[ENV_EXPERIMENT_ID])
        except Exception as e:  # noqa: BLE001
            if not_found(e):
                return None
            raise
    return reader.get_experiment_by_name(env.get(ENV_EXPERIMENT) or "claude-code")


@doctor_check("backend")
def check_backend(checkup):
    env = checkup.env
    uri = env.get(ENV_URI) or local_store_uri()
    env = {**env, **job_credentials(checkup.root, uri)}
    wanted = env.get(ENV_EXPERIMENT) or f"id {env.get(ENV_EXPERIMENT_ID)}"
    where = f"{backend_kind(uri)} {uri}"
    if backend_kind(uri) == "local" and not os.path.exists(uri.split(":///", 1)[-1]):
        return True, f"{where}: not created yet (the first turn creates it)", None
    try:
        found = find_test_experiment(experiment_reader(env, uri), env)
    except TracesError as e:
        return False, str(e), BACKENDS[backend_kind(uri)]["unreachable"](uri, env)
    except Exception as e:  # noqa: BLE001 - whatever an unreachable or foreign backend raises
        return False, f"{where} does not answer like MLflow ({short_error(e)})", BACKENDS[backend_kind(uri)]["unreachable"](uri, env)
    if found is None or found.lifecycle_stage == "deleted":
        if env.get(ENV_EXPERIMENT_ID):
            return False, f"{where} has no experiment {wanted}", "traces init -e NAME"
        return True, f"{where}: experiment {wanted} not created yet (the first turn creates it)", None
    return True, f"{where}: experiment {wanted} (id {found.experiment_id})", None


def job_time(path):
    job = read_json_file(path, {})
    when = job.get("time") if isinstance(job, dict) else None
    if isinstance(when, (int, float)):
        return when
    try:
        return os.path.getmtime(path)
    except OSError:
        return time.time()


@doctor_check("spool")
def check_spool(checkup):
    home = traces_home()
    problem = home_problem(home)
    if problem:
        return False, problem, f"make {home} writable, or set traces_home in {LOCAL_CONFIG_FILE}"
    jobs = pending_jobs()
    stuck = [p for p in jobs if time.time() - job_time(p) > STUCK_SECONDS]
    if stuck:
        return False, (f"{len(stuck)} job(s) waiting for more than {STUCK_SECONDS // 60} min; last error: "
                       f"{last_error() or 'none logged'}"), "traces sync --wait (once the lines above are ok)"
    return True, f"{home}/spool: {len(jobs)} job(s) waiting" if jobs else f"{home}/spool: empty", None


@doctor_check("env")
def check_env(checkup):
    root = os.path.realpath(checkup.root)
    files = [(name, os.path.join(root, name)) for name in (SETTINGS_FILE, LOCAL_SETTINGS_FILE)]
    files.append(("~/" + SETTINGS_FILE, os.path.join(os.path.expanduser("~"), SETTINGS_FILE)))
    found, seen = [], set()
    for name, path in files:
        if os.path.realpath(path) in seen:
            continue
        seen.add(os.path.realpath(path))
        try:
            data, _ = load_settings(path)
        except TracesError:
            continue        # the settings line says so
        keys = [k for k in settings_env(data) if k.startswith(EXPORTED_PREFIXES)]
        if keys:
            found.append((name, keys))
    if not found:
        return True, "no MLFLOW_*, DATABRICKS_* or CLAUDETRACING_* in the settings' env blocks", None
    detail = "; ".join(f"{name} exports {', '.join(keys)}" for name, keys in found)
    detail += " to every command Claude runs"
    ours = all(k in OUR_ENV_KEYS for name, keys in found for k in keys) and not found[-1][0].startswith("~")
    fix = "traces init (moves them to our own files)" if ours else \
        "; ".join(f"remove {', '.join(keys)} from the env block of {name}" for name, keys in found)
    return False, detail, fix


CODEX_TRUST_FIX = "traces init --agent codex --yes"     # what init says trusts its Codex hooks


def codex_untrusted(ours, parsed):
    """The events of our hooks whose trust entry is missing, or is for the hook as it was once
    written: Codex skips those."""
    state = parsed.get("hooks", {}).get("state", {}) if isinstance(parsed.get("hooks"), dict) else {}
    return [event for key, (event, handler) in ours.items()
            if not isinstance(state.get(key), dict) or state[key].get("trusted_hash") != codex_trust_hash(event, handler)]


def codex_sessions_state():
    """(ok, what) of the folder Codex writes rollouts to and the worker reads them from."""
    sessions = codex_sessions_dir()
    if os.path.isdir(sessions):
        if not os.access(sessions, os.R_OK | os.X_OK):
            return False, f"{sessions} cannot be read"
        return True, f"sessions in {sessions}"
    if os.path.exists(sessions):
        return False, f"{sessions} is not a folder"
    if not os.access(codex_home(), os.W_OK):
        return False, f"{sessions} does not exist and {codex_home()} cannot be written"
    return True, f"{sessions} not created yet (Codex's first session creates it)"


def codex_budget_problem(root, hooks, parsed):
    """Why Codex does not check prompts against this repository's budgets, or None."""
    if not project_budget(root):
        return None
    spots = codex_budget_spots(hooks, root)
    if len(spots) != 1:
        return f"{os.path.join(codex_home(), 'hooks.json')} has {'no' if not spots else 'more than one'} " \
            f"budget hook ({CODEX_BUDGET_EVENT}) for this repository"
    (g, h), = spots
    key = f"{os.path.abspath(os.path.join(codex_home(), 'hooks.json'))}:{CODEX_BUDGET_LABEL}:{g}:{h}"
    if codex_untrusted({key: (CODEX_BUDGET_EVENT, hooks["hooks"][CODEX_BUDGET_EVENT][g]["hooks"][h])}, parsed):
        return f"Codex skips the budget hook ({CODEX_BUDGET_EVENT}): no trust entry in " \
            f"{os.path.join(codex_home(), 'config.toml')} matches it as written"
    return None


@doctor_check("codex")
def check_codex(checkup):
    """Codex's hooks for this repository, their trust, its sessions folder; None (no line) when
    the repository is not wired for Codex."""
    hooks_path = os.path.join(codex_home(), "hooks.json")
    try:
        hooks, _, parsed = read_codex_files()
    except TracesError as e:
        if not codex_names_repository(checkup.root):
            return None
        return False, str(e).partition(": fix")[0], f"fix that file, then `{CODEX_TRUST_FIX}`"
    ours = codex_ours(hooks, checkup.root)
    if not ours:
        if not codex_names_repository(checkup.root):
            return None
        return False, f"{hooks_path} names this repository but holds no Stop or SessionEnd hook of ours " \
            "for it", f"fix that file, then `{CODEX_TRUST_FIX}`"
    events = [event for event, _ in ours.values()]
    missing = [event for event in CODEX_HOOK_EVENTS if event not in events]
    if missing:
        return False, f"{hooks_path} has no traces hook for this repository at {', '.join(missing)}", CODEX_TRUST_FIX
    doubled = sorted({event for event in events if events.count(event) > 1})
    if doubled:
        return False, f"{hooks_path} runs traces more than once for this repository at {', '.join(doubled)}", \
            CODEX_TRUST_FIX
    untrusted = codex_untrusted(ours, parsed)
    if untrusted:
        return False, (f"Codex skips the {' and '.join(untrusted)} hook: no trust entry in "
                       f"{os.path.join(codex_home(), 'config.toml')} matches it as written"), \
            f"{CODEX_TRUST_FIX} (or accept {'it' if len(untrusted) == 1 else 'them'} in Codex: /hooks)"
    budget = codex_budget_problem(checkup.root, hooks, parsed)
    if budget:
        return False, budget, CODEX_TRUST_FIX
    ok, sessions = codex_sessions_state()
    if not ok:
        return False, sessions, f"make {codex_sessions_dir()} a folder Codex can write and traces can read"
    return True, f"{hooks_path}: hooks for {', '.join(CODEX_HOOK_EVENTS)}, trusted; {sessions}", None


@doctor_check("gemini")
def check_gemini(checkup):
    """Gemini CLI's hooks in .gemini/settings.json and whether Gemini CLI trusts this folder
    (it runs no hooks where it does not); None (no line) when the repository is not wired for it."""
    path = os.path.join(checkup.root, GEMINI_SETTINGS_FILE)
    try:
        data, _ = load_gemini_settings(path)
    except TracesError as e:
        return False, str(e).partition(": ")[0], "fix that file, then `traces init --agent gemini`"
    found = gemini_our_hooks(data)
    if not any(found.values()):
        return None
    missing = [event for event, commands in found.items() if not commands]
    if missing:
        return False, f"{GEMINI_SETTINGS_FILE} has no traces hook at {', '.join(missing)}", "traces init --agent gemini"
    doubled = [event for event, commands in found.items() if len(commands) > 1]
    if doubled:
        return False, f"{GEMINI_SETTINGS_FILE} runs traces more than once at {', '.join(doubled)}", \
            "traces init --agent gemini"
    trusted, why = gemini_trust(checkup.root)
    if not trusted:
        return False, f"Gemini CLI runs no hooks in this folder: {why}", GEMINI_TRUST_FIX
    return True, f"{GEMINI_SETTINGS_FILE}: hooks for {', '.join(GEMINI_HOOK_EVENTS)}; {why}", None


@doctor_check("copilot")
def check_copilot(checkup):
    """This repository's Copilot CLI hooks and Copilot's sessions folder; None (no line) when
    the repository is not wired for Copilot."""
    path, fix = copilot_hook_file(checkup.root), "traces init --agent copilot"
    if not os.path.exists(path):
        return None
    try:
        _, ours = read_copilot_hooks(checkup.root)
    except TracesError as e:
        return False, str(e).partition(": fix")[0], f"fix or remove that file, then `{fix}`"
    missing = [event for event, commands in ours.items() if not commands]
    if missing:
        return False, f"{path} has no traces hook for this repository at {', '.join(missing)}", fix
    doubled = [event for event, commands in ours.items() if len(commands) > 1]
    if doubled:
        return False, f"{path} runs traces more than once for this repository at {', '.join(doubled)}", fix
    sessions = copilot_sessions_dir()
    if os.path.exists(sessions) and not (os.path.isdir(sessions) and os.access(sessions, os.R_OK | os.X_OK)):
        return False, f"{sessions} cannot be read", f"make {sessions} a folder Copilot CLI can write and traces can read"
    return True, f"{path}: hooks for {', '.join(COPILOT_HOOK_EVENTS)}; sessions in {sessions}", None


def worker_lines(session):
    """What the log says about a session, oldest first."""
    try:
        with open(os.path.join(traces_home(), "traces.log"), encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n") for line in f if f" {session}: " in line]
    except OSError:
        return []


def session_jobs(session):
    return [p for p in pending_jobs() if (read_json_file(p, {}) or {}).get("session_id") == session]


def handled_events(session):
    """The hook events of a session the worker has taken, or that wait in the spool."""
    taken = " ".join(line.partition(" job(s): ")[2] for line in worker_lines(session)).replace(",", " ").split()
    waiting = [(read_json_file(p, {}) or {}).get("hook_event_name") for p in session_jobs(session)]
    return set(taken) | set(waiting)


def wait_for_test_trace(checkup, session, seconds):
    """(reader, experiment id, trace ids) once the worker has handled both of the session's
    jobs and the backend holds its trace; what was found by then otherwise."""
    import sqlite3
    env = checkup.env
    uri = env.get(ENV_URI) or local_store_uri()
    env = {**env, **job_credentials(checkup.root, uri)}
    reader, experiment, ids = None, None, []
    deadline = time.time() + seconds
    while True:
        try:
            # A local store the worker is creating gains tables and columns as MLflow migrates
            # it: its layout is read again each time round (a server's sign-in is kept).
            if reader is None or isinstance(reader, LocalStore):
                reader = experiment_reader(env, uri)
            if not experiment:
                found = find_test_experiment(reader, env)
                experiment = found and found.experiment_id
            if experiment:
                page = reader.search_traces(locations=[experiment], max_results=10, include_spans=False,
                                            filter_string=f"metadata.`{META_SESSION}` = '{session}'")
                ids = [t.info.trace_id for t in page if t.info.trace_metadata.get(META_SESSION) == session]
        except (TracesError, LookupError, OSError, sqlite3.Error):
            pass            # a local store the first upload has not created yet
        if ids and handled_events(session) >= {"Stop", "SessionEnd"} and not session_jobs(session):
            return reader, experiment, ids
        if time.time() > deadline:
            return reader, experiment, ids
        time.sleep(0.5)


def remove_test_traces(checkup, reader, experiment, ids):
    if isinstance(reader, ServerStore):
        reader.call("POST", "traces/delete-traces", {"experiment_id": experiment, "request_ids": ids})
        return
    try:
        (reader.mlflow() if isinstance(reader, LocalStore) else reader).delete_traces(experiment, trace_ids=ids)
    except MissingExtra:
        # A vendored copy run by a Python without mlflow: the worker's Python has it (it just
        # uploaded the trace), so the store is written by the mlflow that wrote the trace.
        python = checkup.env.get(ENV_PYTHON) or checkup.answer["python"]
        code = ("import sys; sys.path.insert(0, sys.argv[1]); import traces; "
                "traces.open_store(sys.argv[2]).delete_traces(sys.argv[3], trace_ids=sys.argv[4:])")
        if run([python, "-c", code, os.path.dirname(checkup.answer["file"]), reader.uri, experiment, *ids],
               timeout=120) is None:
            raise TracesError(f"{python} could not remove the test trace") from None


def clean_test_turn(session, folder, sent):
    """Take away what the test turn left: its jobs, its checkpoint, its transcript. The hook
    runs in the background: a job it wrote after this would wait for a transcript now gone."""
    import shutil
    deadline = time.time() + STOP_CATCH_UP_SECONDS
    while not handled_events(session) >= set(sent) and time.time() < deadline:
        time.sleep(0.2)
    state = os.path.join(traces_home(), "state")
    for path in session_jobs(session) + [os.path.join(state, session + ext) for ext in (".json", ".lock")]:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass        # the worker took the job meanwhile
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def send_doctor_turn(checkup, name):
    """Write an agent's test turn and run its hooks as the agent would (its `doctor_turn`): what
    waiting for it and cleaning up after it need."""
    import subprocess
    import uuid
    turn = {"agent": name, "session": DOCTOR_SESSION_PREFIX + str(uuid.uuid4()), "folder": None, "sent": [],
            "started": time.time(), "error": None, "found": (None, None, []), "took": None}
    try:
        turn["folder"], hooks = AGENTS[name]["doctor_turn"](checkup.root, turn["session"])
        for event, argv, env, payload in hooks:
            subprocess.run(argv, input=json.dumps(payload).encode(), env=env, cwd=checkup.root,
                           capture_output=True, timeout=30)
            turn["sent"].append(event)
    except Exception as e:  # noqa: BLE001 - a check reports, it does not crash
        turn["error"] = e
    return turn


def wait_for_doctor_turn(checkup, turn, deadline):
    """Wait for an agent's test turn to reach the backend (or the deadline to pass)."""
    if turn["error"] is None:
        try:
            turn["found"] = wait_for_test_trace(checkup, turn["session"], deadline - time.time())
            turn["took"] = time.time() - turn["started"]
        except Exception as e:  # noqa: BLE001 - a check reports, it does not crash
            turn["error"] = e


def doctor_turn_result(checkup, turn):
    """(ok, detail, fix) of one agent's test turn, its trace removed; what it left is taken
    away either way."""
    session, name = turn["session"], turn["agent"]
    try:
        if turn["error"]:
            raise turn["error"]
        reader, experiment, ids = turn["found"]
        if ids:
            remove_test_traces(checkup, reader, experiment, ids)
    except Exception as e:  # noqa: BLE001 - a check reports, it does not crash
        return False, f"the test turn {session} failed: {short_error(e)}", f"traces search --session {session}"
    finally:
        clean_test_turn(session, turn["folder"], turn["sent"])
    label = AGENTS[name]["label"]
    if not ids:
        said = worker_lines(session)
        if not said:
            return False, (f"a test turn sent through {label}'s hook command never reached the worker (the hook "
                           f"wrote no job)"), f"traces init --agent {name} (writes its hooks again)"
        return False, f"a test turn did not reach the backend within {DOCTOR_WAIT_SECONDS} s; the worker's last " \
            f"word: {said[-1]}", "traces sync --wait (it says what the backend answers)"
    return True, f"a test turn went {label}'s hook → spool → worker → backend in {turn['took']:.1f} s, and was " \
        "removed", None


@doctor_check("roundtrip")
def check_round_trip(checkup):
    """One test turn per agent wired here, each its own line; sent all at once, so that they
    wait for the worker together, and removed once all have arrived."""
    if checkup.failed & {"settings", "hook", "mlflow", "backend"}:
        return None, "not run: fix the lines above first", None
    wired = [name for name, agent in AGENTS.items() if agent["names_repository"](checkup.root)]
    results = {f"roundtrip {name}": (None, f"not run: fix the {name} line above first", None)
               for name in wired if name in checkup.failed}
    turns = [send_doctor_turn(checkup, name) for name in wired if name not in checkup.failed]
    deadline = time.time() + DOCTOR_WAIT_SECONDS
    for turn in turns:
        wait_for_doctor_turn(checkup, turn, deadline)
    for turn in turns:
        results[f"roundtrip {turn['agent']}"] = doctor_turn_result(checkup, turn)
    return {name: results[name] for name in (f"roundtrip {n}" for n in wired)}


###############################################################################
###############################################################################
# Commands: one section per command, in `traces --help` order; `main` last
###############################################################################
###############################################################################


###############################################################################
# Registry, and the types of options
###############################################################################

DURATION = re.compile(r"(\d+)([hdw])")
DURATION_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400}


def point_in_time(text, end_of_day):
    """Seconds since the epoch of an ISO date or date-time (local time unless it names a zone)
    or of a duration back from now (12h, 7d, 4w); a date alone is its midnight, or with
    end_of_day the next one (a report `--until 2026-12-01` takes in that whole day, as ccusage does)."""
    import argparse
    from datetime import date, datetime, timedelta
    text = text.strip()
    duration = DURATION.fullmatch(text)
    if duration:
        return time.time() - int(duration[1]) * DURATION_SECONDS[duration[2]]
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (2026-11-24), a date-time (2026-11-24T09:30, "
                                         f"2026-11-24T09:30+01:00) or a duration back from now (12h, 7d, 4w)") from None
    try:
        date.fromisoformat(text)
        whole_day = end_of_day
    except ValueError:
        whole_day = False
    return (value + timedelta(days=whole_day)).timestamp()    # a naive value is taken as local time


def since_time(text):
    """--since: turns from this point in time on."""
    return point_in_time(text, end_of_day=False)


def until_time(text):
    """--until: turns before this point in time; a date is included whole."""
    return point_in_time(text, end_of_day=True)


def positive(kind):
    def parse(text):
        import argparse
        try:
            value = kind(text)
        except ValueError:
            value = -1
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number >= 0")
        return value
    return parse


def experiment_options(p):
    """-e NAME or --all: where a reading command looks, this repository's experiment by default."""
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("-e", "--experiment", metavar="NAME", help="another experiment (name or id)")
    scope.add_argument("--all", action="store_true", help="every experiment on the backend")


COMMANDS = {}   # name → (cmd_ function, help, options(parser)), in `traces --help` order


def command(name, help_text, options=None):
    """Register a command: `options(parser)` adds its arguments when it is the one being run."""
    def register(func):
        COMMANDS[name] = (func, help_text, options)
        return func
    return register


###############################################################################
# traces init: wire a repository (hooks, experiment, enrichments)
###############################################################################


def init_target(args):
    """The folder whose settings init writes. Hooks in the home folder's .claude/settings.json
    trace every Claude Code session of the user, wherever it runs: only when asked for."""
    home = os.path.realpath(os.path.expanduser("~"))
    root = home if args.user_wide else repo_root(os.getcwd())
    if args.user_wide or os.path.realpath(root) != home:
        return root
    if not args.yes:
        answer = ask(f"{root} is your home folder: trace every Claude Code session of this user, "
                     f"wherever it runs (y/n)?", "n")
        args.user_wide = answer.lower() in ("y", "yes")
        if args.user_wide:
            return root
    raise TracesError(f"{root} is your home folder, not a repository: set up tracing in the repository whose "
                      f"sessions you want traced, or run `traces init --user-wide` to trace every Claude Code "
                      f"session of this user; nothing was changed")


def machine_invocation(me, extra="mlflow"):
    """This machine's way to run this copy's hook, or None when `traces` on PATH is it."""
    import shlex
    import shutil
    if installed_copy() and in_uv_cache():
        # uvx's environment is in uv's cache, which `uv cache clean` empties: name where traces
        # came from instead, and uvx builds the environment again when it is gone.
        return f"uvx --from {shlex.quote(install_spec(extra))} claudetracing hook"
    on_path = shutil.which("traces")
    if on_path and os.path.dirname(os.path.realpath(on_path)) == os.path.dirname(os.path.realpath(sys.executable)):
        return None
    python = shlex.quote(sys.executable)
    if installed_copy():
        # Installed in an environment that is not on PATH. `-m` reuses the cached bytecode
        # (a script is compiled on every run); -I keeps a traces.py in the repo from shadowing.
        return f"{python} -I -m traces hook"
    # A copy elsewhere: run it as a module from its folder, so its bytecode is cached.
    return f"cd {shlex.quote(os.path.dirname(me))} && {python} -m traces hook"


def vendored_worker(rel, extra):
    """How a vendored copy's worker gets mlflow on this machine: (LOCAL_HOOK_FILE's
    invocation, CLAUDETRACING_PYTHON). The Python running init if it has mlflow; else uvx,
    which keeps an environment with mlflow in its cache (and rebuilds it once cleaned);
    else (None, None): init says what to install."""
    import importlib.util
    import shlex
    import shutil
    if importlib.util.find_spec("mlflow") is not None and not in_uv_cache():
        return None, sys.executable
    if shutil.which("uvx"):
        first, *more = EXTRAS[extra]
        withs = "".join(f" --with {shlex.quote(p)}" for p in more)
        return f'uvx --from {shlex.quote(first)}{withs} python3 "$CLAUDE_PROJECT_DIR/{rel}" hook', None
    return None, None


def hook_invocation(root, extra="mlflow", python=None):
    """How the hook reaches this copy of traces, and the Python its worker runs: (shared,
    local, python) for the committed command, LOCAL_HOOK_FILE and this machine's
    CLAUDETRACING_PYTHON. None for both invocations: `traces hook` works, `traces` is on PATH."""
    me = os.path.realpath(os.path.abspath(__file__))
    rel = os.path.relpath(me, os.path.realpath(root))
    # ~/.claude/settings.json (tracing outside repositories) is the user's own: its command
    # names this machine's paths.
    user_wide = os.path.realpath(root) == os.path.realpath(os.path.expanduser("~"))
    if not rel.startswith("..") and not user_wide and not installed_copy():
        # A vendored copy travels with the repository: every clone finds it at the same place.
        local, python = (None, python) if python else vendored_worker(rel, extra)
        return f'python3 "$CLAUDE_PROJECT_DIR/{rel}" hook', local, python
    local = machine_invocation(me, extra)
    return (local, None, python) if user_wide else (None, local, python)


def kept_python(current):
    """The worker's Python to keep in this machine's settings: CLAUDETRACING_PYTHON from the
    shell must exist (else Error); one kept earlier that no longer exists is dropped, said."""
    given = os.environ.get(ENV_PYTHON)
    if given:
        problem = python_problem(given)
        if problem:
            raise TracesError(f"{problem}: point it at a Python that has mlflow, or unset it; nothing was changed")
        return given
    kept = current.get(ENV_PYTHON)
    if kept and python_problem(kept):
        print(f"Dropped {python_problem(kept)} from {LOCAL_CONFIG_FILE}.")
        return None
    return kept


def ensure_server_experiment(uri, env, name=None, experiment_id=None):
    """Check the server answers and the experiment exists (created by name if missing)."""
    if experiment_id:
        status, body = get_server_experiment(uri, env, experiment_id=experiment_id)
        if status != 200:
            raise TracesError(f"experiment id {experiment_id} does not exist on {uri}")
        return experiment_id
    status, body = get_server_experiment(uri, env, name=name)
    if status == 200:
        return body["experiment"]["experiment_id"]
    if status != 404:
        raise TracesError(f"{uri} does not answer like an MLflow server (HTTP {status})")
    status, body = mlflow_rest(uri, "POST", "experiments/create", env, {"name": name})
    if status != 200:
        raise TracesError(f"could not create experiment {name!r} on {uri}: {body.get('message', status)}")
    return body["experiment_id"]


def split_uri_credentials(uri):
    """http://user:pass@host → (http://host, user, pass); credentials never go in a committed file."""
    import urllib.parse
    parts = urllib.parse.urlsplit(uri)
    if not parts.username:
        return uri, None, None
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    clean = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")


def is_loopback(uri):
    import urllib.parse
    host = urllib.parse.urlsplit(uri).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def update_gitignore(root):
    """Keep our machine-local files out of git; only inside a git work tree."""
    if run(["git", "rev-parse", "--is-inside-work-tree"], cwd=root) != "true":
        return []
    missing = [name for name in GITIGNORED if run(["git", "check-ignore", "-q", "--no-index", name], cwd=root) is None]
    if not missing:
        return []
    path = os.path.join(root, ".gitignore")
    try:
        with open(path, "rb") as f:
            old = f.read()
    except FileNotFoundError:
        old = None
        remember_created(created_files() + [os.path.realpath(path)])
    sep = b"" if not old or old.endswith(b"\n") else b"\n"
    block = "\n".join([GITIGNORE_HEADER, *missing]) + "\n"
    write_atomic(path, (old or b"") + sep + block.encode(), mode=0o644)
    return ["updated .gitignore"]


SHARED_FOLDER = "/Workspace/Shared/claude-code"


def check_profile(name, profiles, allow_pat):
    """The profile's host, or an error saying how to get a usable profile."""
    if name not in profiles:
        known = ", ".join(profiles) or "none"
        raise TracesError(f"no Databricks profile {name!r} in {databricks_config_file()} (profiles: {known}); "
                          f"create it with `{login_command('https://<workspace-host>', name)}`")
    profile = profiles[name]
    if not profile["host"]:
        raise TracesError(f"profile {name!r} in {databricks_config_file()} has no host")
    if profile["auth"] == "pat" and not allow_pat:
        raise TracesError(
            f"profile {name!r} signs in with a personal access token, a long-lived secret that is easy to "
            f"leak and is not tied to your single sign-on. Sign in with OAuth instead (the CLI keeps a "
            f"short-lived token it refreshes itself):\n  {login_command(profile['host'], name)}\n"
            f"then run `traces init --profile {name}` again. If your workspace allows only tokens, "
            f"pass --allow-pat.")
    return profile["host"]


def add_workspace(profiles):
    """Interactive: sign in to a new workspace with `databricks auth login`; the new profile's name."""
    import shutil
    import subprocess
    cli = shutil.which("databricks")
    if not cli:
        raise TracesError(f"adding a workspace needs the Databricks CLI: {CLI_INSTALL}; then run "
                          f"`{login_command('https://<workspace-host>', '<name>')}` and `traces init` again")
    host = ask("Workspace URL (https://...)", "").strip().rstrip("/")
    if not host:
        raise TracesError("no workspace URL given")
    if "://" not in host:
        host = "https://" + host
    import urllib.parse
    suggestion = (urllib.parse.urlsplit(host).hostname or "workspace").split(".")[0]
    name = ask("Profile name", suggestion if suggestion not in profiles else suggestion + "-oauth")
    print(f"Running `{login_command(host, name)}` (it opens your browser)...")
    if subprocess.run([cli, "auth", "login", "--host", host, "--profile", name]).returncode != 0:
        raise TracesError(f"`{login_command(host, name)}` failed; run it yourself, then `traces init --profile {name}`")
    return name


def choose_profile(args, current, interactive):
    """(profile name or None for a service principal, host)."""
    # Re-running init in CI (`traces init --yes`) keeps the service principal it found there.
    if args.spn or (not args.profile and not current.get(ENV_PROFILE) and not interactive
                    and os.environ.get("DATABRICKS_CLIENT_ID")):
        host = os.environ.get("DATABRICKS_HOST", "").rstrip("/")
        missing = [k for k in ("DATABRICKS_HOST", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET")
                   if not os.environ.get(k)]
        if missing:
            raise TracesError(f"--spn signs in as a service principal from the environment: set {', '.join(missing)} "
                              f"(OAuth M2M: the principal's application id and an OAuth secret)")
        return None, host if "://" in host else "https://" + host
    profiles = databricks_profiles()
    name = args.profile or current.get(ENV_PROFILE)
    if interactive and not args.profile:
        names = list(profiles)
        print(f"Databricks workspaces ({databricks_config_file()}):")
        labels = {"oauth": "OAuth", "pat": "personal access token", "m2m": "service principal"}
        for i, n in enumerate(names, 1):
            print(f"  {i}) {n:<16} {profiles[n]['host']}  ({labels.get(profiles[n]['auth'], profiles[n]['auth'])})")
        print("  n) add a new workspace")
        default = str(names.index(name) + 1) if name in names else ("1" if names else "n")
        answer = ask("Workspace", default)
        if answer.lower() == "n":
            name = add_workspace(profiles)
            profiles = databricks_profiles()
        elif answer.isdigit() and 1 <= int(answer) <= len(names):
            name = names[int(answer) - 1]
        else:
            name = answer
    if not name:
        raise TracesError(f"say which Databricks profile to use: --profile NAME (profiles in "
                          f"{databricks_config_file()}: {', '.join(profiles) or 'none'}), or --spn in CI")
    return name, check_profile(name, profiles, args.allow_pat)


def check_reachable(host, timeout=5):
    """Fail in seconds on a host that does not answer: the SDK retries connection errors for as
    long as its retry budget lasts (twice over: host metadata, then the first call)."""
    import socket
    import urllib.parse
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return                  # behind a proxy only the proxy knows; let the SDK find out
    parts = urllib.parse.urlsplit(host)
    try:
        socket.create_connection((parts.hostname, parts.port or (80 if parts.scheme == "http" else 443)),
                                 timeout=timeout).close()
    except (OSError, ValueError, TypeError) as e:
        raise TracesError(f"cannot reach the Databricks workspace at {host} ({e}): check the host "
                          f"(in {databricks_config_file()} or DATABRICKS_HOST), your network and VPN") from None


def workspace_client(profile, host):
    """A signed-in WorkspaceClient, or an error naming what went wrong."""
    check_reachable(host)
    try:
        if profile:
            return databricks_client(profile=profile)
        return databricks_client(host=host, client_id=os.environ["DATABRICKS_CLIENT_ID"],
                                 client_secret=os.environ["DATABRICKS_CLIENT_SECRET"], auth_type="oauth-m2m")
    except TracesError:
        raise
    except Exception as e:  # noqa: BLE001 - the SDK raises ValueError/IOError for every sign-in failure
        raise databricks_failure(e, host, profile, "signing in") from None


def experiment_path(requested, user, repo, personal):
    """Where the experiment lives: shared by default, personal on request; -e a path or a name under it."""
    folder = f"/Workspace/Users/{user}/claude-code" if personal else SHARED_FOLDER
    if not requested:
        return f"{folder}/{repo.split('/')[-1] if personal else repo}"
    if requested.startswith(("/Users/", "/Shared/")):
        requested = "/Workspace" + requested
    if requested.startswith("/"):
        if not requested.startswith(("/Workspace/Users/", "/Workspace/Shared/")):
            raise TracesError(f"a Databricks experiment lives under /Workspace/Shared/ or /Workspace/Users/<you>/, "
                              f"not {requested!r}")
        return requested.rstrip("/")
    return f"{folder}/{requested.strip('/')}"


def parse_trace_location(text):
    """`catalog.schema.prefix` for Unity Catalog trace tables, validated; None for none."""
    if not text:
        return None
    if not re.fullmatch(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+", text):
        raise TracesError(f"--trace-location takes catalog.schema.table_prefix (Unity Catalog), not {text!r}")
    return text


def databricks_setup(args, root, current, interactive):
    """Sign in, find or create the experiment, verify it all before anything is written.

    Returns {"shared", "local": settings env, "where", "experiment", "experiment_id", "tags", "set_tag"}.
    """
    profile, host = choose_profile(args, current, interactive)
    location = parse_trace_location(args.trace_location or current.get(ENV_TRACE_LOCATION))
    w = workspace_client(profile, host)
    try:
        user = w.current_user.me().user_name
    except Exception as e:  # noqa: BLE001
        raise databricks_failure(e, host, profile, "reading the signed-in user") from None
    print(f"Signed in to {host} as {user}" + (f" (profile {profile})." if profile else " (service principal)."))

    quiet_mlflow()
    need_mlflow()
    from mlflow import MlflowClient
    uri = f"databricks://{profile}" if profile else DATABRICKS_URI
    client = MlflowClient(uri)
    doing = "opening the experiment"
    try:
        if args.experiment_id:
            found = client.get_experiment(args.experiment_id)
            path = found.name
        else:
            requested, personal, repo = args.experiment, args.personal, default_experiment_name(root)
            if not requested and not personal and current.get(ENV_EXPERIMENT, "").startswith("/Workspace/"):
                requested = current[ENV_EXPERIMENT]
            if interactive and not args.experiment:
                if not requested and not personal:
                    print(f"Experiment folder:\n  1) shared with the team: {experiment_path(None, user, repo, False)}\n"
                          f"  2) personal: {experiment_path(None, user, repo, True)}")
                    personal = ask("Choice", "1") == "2"
                requested = ask("Experiment", experiment_path(requested, user, repo, personal))
            path = experiment_path(requested, user, repo, personal)
            found = client.get_experiment_by_name(path)
            if found is None:
                doing = f"creating the folder {path.rsplit('/', 1)[0]}"
                w.workspace.mkdirs(path.rsplit("/", 1)[0])
                doing = f"creating the experiment {path}"
                found = client.get_experiment(client.create_experiment(path))
                print(f"Created experiment {path} (id {found.experiment_id}).")
        if found.lifecycle_stage != "active":
            raise TracesError(f"experiment {path} was deleted; restore it in the workspace or choose another with -e")
        experiment_id = found.experiment_id
        if location:
            doing = f"linking the experiment to the Unity Catalog location {location}"
            import mlflow
            mlflow.set_tracking_uri(uri)      # set_experiment links through the current tracking URI
            use_trace_location(experiment_id, location)
    except TracesError:
        raise
    except Exception as e:  # noqa: BLE001
        raise databricks_failure(e, host, profile, doing) from None

    def set_tag(key, value):
        try:
            client.set_experiment_tag(experiment_id, key, value)
        except Exception as e:  # noqa: BLE001
            raise databricks_failure(e, host, profile, f"tagging the experiment {path}") from None

    shared = {ENV_URI: DATABRICKS_URI, ENV_EXPERIMENT: path, ENV_EXPERIMENT_ID: experiment_id,
              ENV_TRACE_LOCATION: location}
    local = {ENV_PROFILE: profile, ENV_URI: None}
    where = f"Databricks {host} ({f'profile {profile}' if profile else 'service principal'})" + \
        (f", trace tables {location}" if location else "")
    return {"shared": shared, "local": local, "where": where, "experiment": path, "experiment_id": experiment_id,
            "tags": dict(found.tags), "set_tag": set_tag}


def server_experiment_tags(uri, auth, experiment_id, timeout=10):
    """A self-hosted server's experiment tags as a dict, and a setter (stdlib REST, no mlflow)."""
    status, body = get_server_experiment(uri, auth, experiment_id=experiment_id, timeout=timeout)
    if status != 200:
        raise TracesError(f"experiment id {experiment_id} does not exist on {uri}")
    tags = experiment_tags(body)

    def set_tag(key, value):
        status, body = mlflow_rest(uri, "POST", "experiments/set-experiment-tag", auth,
                                   {"experiment_id": experiment_id, "key": key, "value": value})
        if status != 200:
            raise TracesError(f"could not tag experiment {experiment_id} on {uri}: {body.get('message', status)}")
    return tags, set_tag


def settle_team_enrichments(args, current, tags, set_tag):
    """The enrichments for this repository, kept the same for everyone writing to one experiment.

    The first init records its choice in the experiment's `claudetracing.enrichments` tag; a
    teammate's init adopts the tag (and says so) unless they choose with --enrichments, which
    then becomes the team's choice. Without a shared experiment (tags None) the repo decides.
    """
    explicit = getattr(args, "enrichments", None)
    chosen = parse_enrichments(explicit) if explicit is not None else enabled_enrichments(current)
    value = ",".join(chosen)
    if tags is None:
        return value
    team = tags.get(TAG_ENRICHMENTS)
    if team is None or (explicit is not None and team != value):
        set_tag(TAG_ENRICHMENTS, value)
        if team is not None:
            print(f"Enrichments: the experiment's team setting was {team or 'none'}; it is now {value or 'none'}.")
        return value
    adopted = ",".join(parse_enrichments(team))
    if adopted != value:
        print(f"Enrichments: using the team's choice recorded on the experiment ({adopted or 'none'}) "
              f"instead of {value or 'none'}; pass --enrichments to change it for everyone.")
    return adopted


# The status line is a personal choice of what to see, so it goes in this machine's
# settings.local.json. One the user has already is never replaced: ours is shown after theirs
# when they say so (both get the same stdin), and disable puts theirs back as it was.
STATUSLINE_MARK = "# claudetracing statusline"
STATUSLINE_KEPT = "statusline_replaced"       # traces.local.json: the user's own, while ours wraps it
# Claude Code re-runs the status line as its screen changes; the worker's uploads change
# nothing on the screen, so the line is also re-run every few seconds (refreshInterval).
STATUSLINE_REFRESH = 5


def statusline_command(theirs=None):
    """Our status-line command, run after theirs (a shell command) when there is one."""
    me = os.path.realpath(os.path.abspath(__file__))
    ours = (machine_invocation(me) or DEFAULT_INVOCATION).removesuffix("hook") + "statusline"
    if theirs is None:
        return f"{ours} {STATUSLINE_MARK}"
    return (f"i=$(cat); t=$(printf '%s' \"$i\" | {{ {theirs}\n}}); o=$(printf '%s' \"$i\" | {{ {ours}; }}); "
            f"printf '%s  %s\\n' \"$t\" \"$o\" {STATUSLINE_MARK}")


def is_our_statusline(value):
    return isinstance(value, dict) and STATUSLINE_MARK in str(value.get("command", ""))


def their_statusline(settings):
    """(file, their statusLine) of the first settings file that has one not ours, else None."""
    user = os.path.join(os.path.expanduser("~"), SETTINGS_FILE)
    for name, data in ((LOCAL_SETTINGS_FILE, settings.local), (SETTINGS_FILE, settings.shared),
                       ("~/" + SETTINGS_FILE, read_json_file(user) if user != os.path.join(settings.root, SETTINGS_FILE)
                        else None)):
        value = data.get("statusLine") if isinstance(data, dict) else None
        if value and not is_our_statusline(value):
            return name, value
    return None


def wire_statusline(settings, interactive):
    """Put our status line in settings.local.json, after the user's own when they agree."""
    if is_our_statusline(settings.local.get("statusLine")):
        return
    found = their_statusline(settings)
    if found is None:
        settings.local["statusLine"] = {"type": "command", "command": statusline_command(),
                                        "refreshInterval": STATUSLINE_REFRESH}
        return
    name, theirs = found
    command = theirs.get("command") if theirs.get("type") == "command" else None
    question = f"You have a status line ({name}): show traces' after it (y/n)?"
    if not isinstance(command, str) or not interactive or ask(question, "n").lower() not in ("y", "yes"):
        print(f"Your status line ({name}) is kept as it is; `traces init --statusline` (interactive) can show "
              f"traces' after it.")
        return
    if name == LOCAL_SETTINGS_FILE:
        settings.local_config[STATUSLINE_KEPT] = theirs
    settings.local["statusLine"] = {"refreshInterval": STATUSLINE_REFRESH, **theirs, "command": statusline_command(command)}


def unwire_statusline(settings):
    """Take our status line out of settings.local.json, putting back the one it wrapped."""
    if is_our_statusline(settings.local.get("statusLine")):
        kept = settings.local_config.get(STATUSLINE_KEPT)
        if isinstance(kept, dict):
            settings.local["statusLine"] = kept
        else:
            del settings.local["statusLine"]


def init_options(p):
    p.add_argument("--agent", action="append", metavar="NAME",
                   help="the agents to wire: claude, codex, gemini, copilot, or all (those on PATH); repeat or list: "
                        "--agent claude,copilot. Default: asked (those on PATH), claude with --yes")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="the local store under TRACES_HOME (default)")
    where.add_argument("--tracking-uri", metavar="URI", help="a self-hosted MLflow server, http(s)://...")
    where.add_argument("--profile", metavar="NAME", help="a Databricks workspace, through this CLI profile (OAuth)")
    where.add_argument("--spn", action="store_true",
                       help="Databricks as a service principal (CI): DATABRICKS_HOST, _CLIENT_ID, _CLIENT_SECRET")
    which = p.add_mutually_exclusive_group()
    which.add_argument("-e", "--experiment", metavar="NAME", help="experiment name (default: org/repo of origin)")
    which.add_argument("--experiment-id", metavar="ID", help="an existing experiment's id")
    p.add_argument("-y", "--yes", action="store_true", help="ask nothing; take the defaults (never --user-wide)")
    p.add_argument("--personal", action="store_true",
                   help="Databricks: the experiment in your own folder, not /Workspace/Shared/claude-code")
    p.add_argument("--allow-pat", action="store_true", help="Databricks: accept a profile with a personal access token")
    p.add_argument("--trace-location", metavar="CATALOG.SCHEMA.PREFIX",
                   help="Databricks: store the traces in these Unity Catalog tables")
    p.add_argument("--enrichments", metavar="LIST",
                   help="comma-separated enrichments (or none); the experiment keeps the team's choice")
    p.add_argument("--user-wide", action="store_true",
                   help="trace every Claude Code session of this user (hooks in ~/.claude/settings.json)")
    p.add_argument("--statusline", action="store_true",
                   help="show tracing and spend in Claude Code's status line (this machine's settings; "
                        "never replaces yours without asking)")


def agents_on_path():
    """The agents whose program is on PATH."""
    import shutil
    return [name for name, agent in AGENTS.items() if shutil.which(agent["binary"])]


def parse_agents(values):
    """Agent names, repeated or comma-separated; `all`: those on PATH (saying which it skipped)."""
    agents = [a.strip() for value in values for a in value.split(",") if a.strip()]
    if "all" in agents:
        found = agents_on_path()
        skipped = [name for name in AGENTS if name not in found]
        if not found:
            raise TracesError(f"--agent all: none of {', '.join(agent['binary'] for agent in AGENTS.values())} is on "
                              "PATH; name the agents to wire instead (--agent claude,codex); nothing was changed")
        print(f"Agents on PATH: {', '.join(found)}" + (f"; skipped (not on PATH): {', '.join(skipped)}" if skipped else ""))
        agents = [a for name in agents for a in (found if name == "all" else [name])]
    unknown = [a for a in agents if a not in AGENTS]
    if unknown or not agents:
        raise TracesError(f"unknown agent {', '.join(unknown) or '(none)'}; choose from {', '.join(AGENTS)} or all")
    return list(dict.fromkeys(agents))


def init_agents(args, interactive):
    """The agents init wires: --agent; else asked (those on PATH by default), Claude Code with
    --yes (as before there was a choice) and for --user-wide (only Claude Code has user-wide hooks)."""
    if args.agent:
        return parse_agents(args.agent)
    if not interactive or args.user_wide:
        return [DEFAULT_AGENT]
    found = agents_on_path()
    return parse_agents([ask(f"Which agents should traces wire ({', '.join(AGENTS)}, or all; comma-separated)",
                             ",".join(found) or DEFAULT_AGENT)])


def choose_destination(args, current, interactive):
    """Where traces go, from the flags, else asked or kept from the settings: (uri, databricks)."""
    uri = args.tracking_uri
    databricks = bool(args.profile or args.spn)
    if not uri and not args.local and not databricks:
        existing = current.get(ENV_URI, "")
        remote = existing if is_http(existing) else ""
        if interactive:
            print("Where should traces go?\n  1) a local store on this machine (no server needed)\n"
                  "  2) an MLflow tracking server\n  3) a Databricks workspace")
            choice = ask("Choice", "3" if backend_kind(existing) == "databricks" else "2" if remote else "1")
            if choice == "2":
                uri = ask("Tracking server URL", remote or "http://localhost:5000")
            databricks = choice == "3"
        else:
            uri = remote or None
            databricks = backend_kind(existing) == "databricks"
    if args.trace_location and not databricks:
        raise TracesError("--trace-location (Unity Catalog) needs a Databricks workspace: --profile NAME or --spn")
    return uri, databricks


def server_credentials(uri, current, interactive):
    """An MLflow server's URL without credentials, and the credentials to reach it: (uri, auth)."""
    uri, user, password = split_uri_credentials(uri.rstrip("/"))
    if user:
        return uri, {ENV_USERNAME: user, ENV_PASSWORD: password}
    # Credentials given now, else those this server already has (stored, or left in the
    # settings env by a version before 0.9), else the shell's token.
    known = {**{k: current[k] for k in CREDENTIAL_KEYS if current.get(k) and current.get(ENV_URI) == uri},
             **stored_credentials(uri)}
    auth = {k: v for k, v in known.items() if k != ENV_TOKEN} if known.get(ENV_USERNAME) else {}
    token = known.get(ENV_TOKEN) or os.environ.get(ENV_TOKEN) or current.get(ENV_TOKEN)
    if interactive and not token and not auth:
        import getpass
        prompt = "Bearer token for the server (Enter for none): "
        token = (getpass.getpass(prompt) if sys.stdin.isatty() else ask(prompt.rstrip(": "), "")) or None
    return uri, auth or ({ENV_TOKEN: token} if token else {})


def init_experiment(args, root, current, interactive):
    """The experiment on an MLflow server or the local store: given, kept, or named: (name, id)."""
    name, experiment_id = args.experiment, args.experiment_id
    if not experiment_id and not name:
        name = current.get(ENV_EXPERIMENT)
        experiment_id = None if name else current.get(ENV_EXPERIMENT_ID)
        if not experiment_id:
            name = name or default_experiment_name(root)
            if interactive:
                name = ask("Experiment name", name)
    return name, experiment_id


def mlflow_setup(args, root, current, interactive, uri):
    """Set up an MLflow server (uri) or the local store (no uri), as databricks_setup does a workspace.

    Returns databricks_setup's dict, with "auth": the server's credentials.
    """
    local, shared, auth, tags = {}, {}, {}, (None, None)
    if uri:
        if not is_http(uri):
            raise TracesError(f"--tracking-uri must be an http(s):// MLflow server URL, not {uri!r}")
        uri, auth = server_credentials(uri, current, interactive)
        # A server on loopback is this machine's alone; any other is the team's to share.
        if is_loopback(uri):
            local[ENV_URI] = uri
        else:
            shared[ENV_URI] = uri
            local[ENV_URI] = None
    else:
        local[ENV_URI] = local_store_uri()
        shared[ENV_URI] = None
        check_local_store(local_store_uri().split(":///", 1)[-1])
    name, experiment_id = init_experiment(args, root, current, interactive)
    if uri:
        experiment_id_found = ensure_server_experiment(uri, auth, name, experiment_id)
        print(f"Checked {uri}: experiment {name or experiment_id} (id {experiment_id_found}) is ready.")
        tags = server_experiment_tags(uri, auth, experiment_id_found)
    shared[ENV_EXPERIMENT] = None if experiment_id else name
    shared[ENV_EXPERIMENT_ID] = experiment_id or None
    shared[ENV_TRACE_LOCATION] = None
    local[ENV_PROFILE] = None
    return {"shared": shared, "local": local, "where": uri, "experiment": name, "experiment_id": experiment_id,
            "tags": tags[0], "set_tag": tags[1], "auth": auth}


def report_hook_check(root, command, extra):
    """Say whether the hook command reaches traces, and how to install it where it does not."""
    answer = probe_hook(root)
    if answer:
        print(f"Hook check: `{command}` reaches traces {answer['version']} ({answer['python']}).")
        if not answer.get("mlflow", True):
            print(f"Warning: {worker_trouble(answer)}", file=sys.stderr)
    else:
        spec = install_spec(extra) if install_source() else f"<this repository's checkout or git URL>[{extra}]"
        print(f"Warning: the hook command `{command}` did not reach traces. Install traces where the hook "
              f"finds it (`uv tool install '{spec}'`, or pipx) and run init again.", file=sys.stderr)


def report_init_done(args, root, where, agents):
    """Say which sessions are traced where, and what to do next (restart the agents wired)."""
    names = spoken(AGENTS[name]["label"] for name in agents)
    if args.user_wide:
        print(f"Every Claude Code session of this user, wherever it runs, is traced to {where}.")
    elif os.path.exists(os.path.join(root, ".git")):
        print(f"Traces of this repository go to {where}.")
    else:
        print(f"Traces of {names} sessions started in {root} go to {where}.")
    print(f"Next: `{typed_command('doctor')}` checks it all with a test turn; restart {names} in this "
          f"repository; then `{typed_command('search')}` shows your turns.")


@command("init", "wire this repository: hooks, experiment, enrichments", init_options)
def cmd_init(args):
    # Every check (the folder, its settings files, TRACES_HOME, the backend) comes before the
    # first write: a refusal leaves the repository and TRACES_HOME as they were.
    root = init_target(args)
    settings = RepoSettings(root)       # refuses malformed files before anything else happens
    interactive = not args.yes
    if interactive:
        print(f"Setting up tracing for {root}")
    agents = init_agents(args, interactive)
    for name in agents:
        AGENTS[name]["init_check"](root, args)
    check_home()
    current = settings.env
    uri, databricks = choose_destination(args, current, interactive)
    setup = databricks_setup(args, root, current, interactive) if databricks else \
        mlflow_setup(args, root, current, interactive, uri)
    env_shared, env_local, auth = dict(setup["shared"]), dict(setup["local"]), setup.get("auth") or {}
    uri = setup["where"]

    env_shared[ENV_ENRICHMENTS] = settle_team_enrichments(args, current, setup["tags"], setup["set_tag"])
    env_local[ENV_HOME] = os.environ.get(ENV_HOME) and traces_home()
    # Settings a version before 0.9 kept in the settings' env move to our files (above, from
    # `current`); what is left of ours there goes.
    for key in (ENV_REDACT, ENV_REDACT_PATTERNS, ENV_MAX_PAYLOAD):
        env_shared.setdefault(key, current.get(key))
    extra = "databricks" if databricks else "mlflow"
    shared_hook, local_hook, env_local[ENV_PYTHON] = hook_invocation(root, extra, kept_python(current))
    settings.update(shared=env_shared, local=env_local)
    settings.drop_legacy_env()
    remove_our_hooks(settings.local)
    for name in agents:
        AGENTS[name]["wire_settings"](settings, shared_hook or DEFAULT_INVOCATION)
    if args.statusline:
        wire_statusline(settings, interactive)
    written = settings.save()
    written += write_local_hook(root, local_hook)
    written += update_gitignore(root)
    for name in agents:
        written += AGENTS[name]["wire"](root, shared_hook or DEFAULT_INVOCATION, args.yes)
    if auth and store_credentials(uri, auth):
        written.append(f"stored the server's credentials in {credentials_path()} (private to you)")
    for line in written:
        print(line)
    if not written:
        print("Nothing to change: this repository is already set up.")

    report_hook_check(root, local_hook or shared_hook or DEFAULT_INVOCATION, extra)
    experiment = setup["experiment"] or setup["experiment_id"]
    report_init_done(args, root, f"{uri or f'the local store ({local_store_uri()})'}, experiment {experiment}", agents)
    return 0


###############################################################################
# traces status: how this repository is set up
###############################################################################

def repo_status(root, check_hook=True):
    """Everything `traces status` shows, as one dict (also the --json output)."""
    status = {"version": __version__, "repository": root, "problems": []}
    try:
        settings = RepoSettings(root)
    except TracesError as e:
        status["problems"].append(str(e))
        status["configured"] = False
        return status
    env = settings.env
    status["settings_files"] = [os.path.relpath(p, root) for p in settings.paths if os.path.exists(p)]
    commands = [our_hook_commands(settings.shared, event) for event in HOOK_EVENTS]
    status["configured"] = all(len(c) == 1 for c in commands)
    if any(ENV_HOOK in c for found in commands for c in found):
        status["problems"].append("the hooks were written by a version before 0.9: run `traces init` to update them")
    for name, keys in settings.legacy_env().items():
        status["problems"].append(
            f"{name} sets {', '.join(keys)} in its env block, which Claude Code exports to every command it runs "
            f"(your own MLflow code would log into the traces store): run `traces init` to move them to {CONFIG_FILE}")
    uri = env.get(ENV_URI) or local_store_uri()
    status["backend"] = {"tracking_uri": uri, "kind": backend_kind(uri)}
    status["experiment"] = env.get(ENV_EXPERIMENT) or (env.get(ENV_EXPERIMENT_ID) and f"id {env[ENV_EXPERIMENT_ID]}") \
        or default_experiment_name(root)
    status["enrichments"] = enabled_enrichments(env)
    if env.get(ENV_PROFILE):
        status["backend"]["profile"] = env[ENV_PROFILE]
    if env.get(ENV_TRACE_LOCATION):
        status["backend"]["trace_location"] = env[ENV_TRACE_LOCATION]
    team = team_enrichments_tag(env) if status["configured"] else None
    if team is not None and set(parse_enrichments(team)) != set(status["enrichments"]):
        status["problems"].append(
            f"this repository's enrichments ({', '.join(status['enrichments']) or 'none'}) differ from the "
            f"experiment's team setting ({team or 'none'}): run `traces init --enrichments {team or 'none'}` "
            f"to follow the team, or `traces init --enrichments <list>` to change it for everyone")
    status["redaction"] = {"enabled": env.get(ENV_REDACT, "on") != "off",
                           "custom_patterns": custom_patterns(env)}
    status["hook_command"] = machine_hook_invocation(root, env, (commands[0] or [""])[0])
    if check_hook and status["configured"]:
        answer = probe_hook(root)
        status["hook_runs"] = bool(answer)
        if not answer:
            status["problems"].append(f"the hook command `{status['hook_command']}` does not reach traces")
        elif not answer.get("mlflow", True) and not answer.get("problem"):
            status["problems"].append(worker_trouble(answer))
    python = os.environ.get(ENV_PYTHON) or env.get(ENV_PYTHON)
    if python and python_problem(python):
        status["problems"].append(f"{python_problem(python)}, so the worker cannot start and turns wait in the "
                                  f"spool: point it at a Python that has mlflow (or unset it), then run `traces init`")
    home = traces_home()
    status["traces_home"] = home
    status["pending_jobs"] = len(pending_jobs())
    status["last_error"] = last_error()
    problem = home_problem(home)
    if problem:
        status["problems"].append(problem)
    if recorded_problem():
        status["problems"].append(recorded_problem())
    return status


def status_options(p):
    p.add_argument("--json", action="store_true", help="print JSON only")


@command("status", "show how this repository is set up", status_options)
def cmd_status(args):
    root = repo_root(os.getcwd())
    status = repo_status(root)
    found = agents_on_path()
    status["agents"] = {}
    for name, agent in AGENTS.items():
        wiring = agent["status"](root)
        if wiring:
            status[name] = wiring
            status["configured"] = True     # wired by its own files alone (no Claude Code hooks) is set up too
        status["agents"][name] = {"wired": bool(wiring), "hooks_file": wiring["hooks_file"] if wiring else None,
                                  "on_path": name in found}
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    paint = Painter(sys.stdout)
    print(paint.bold(f"traces {__version__}") + f"  {root}")
    rows = [("configured", paint.ok("yes") if status["configured"] else paint.bad("no (run `traces init`)"))]
    if "backend" in status:
        redaction = status["redaction"]
        redact_text_ = (f"on, {len(redaction['custom_patterns'])} custom pattern(s)" if redaction["enabled"]
                        else paint.bad("OFF: secrets in transcripts are uploaded as they are"))
        hook_state = "" if "hook_runs" not in status else (" (runs)" if status["hook_runs"] else paint.bad(" (does not run)"))
        rows += [
            ("backend", f"{status['backend']['kind']}: {status['backend']['tracking_uri']}"),
            ("experiment", status["experiment"]),
            ("enrichments", ", ".join(status["enrichments"]) or "none"),
            ("redaction", redact_text_),
            ("hook", status["hook_command"] + hook_state),
            *((name, agent["status_row"](status[name], paint) if name in status else paint.dim(
                "not wired" + (f" ({agent['binary']} is on PATH: `traces init --agent {name}`)"
                               if status["agents"][name]["on_path"] else "")))
              for name, agent in AGENTS.items()),
            ("settings", ", ".join(status["settings_files"]) or "none"),
            ("traces home", status["traces_home"]),
            ("pending jobs", str(status["pending_jobs"])),
            ("last error", status["last_error"] or "none"),
        ]
    for label, value in rows:
        print(f"  {label:<13} {value}")
    for problem in status["problems"]:
        print(paint.bad(f"  Problem: {problem}"))
    return 0


###############################################################################
# traces doctor: check the path a turn takes
###############################################################################

def doctor_options(p):
    p.add_argument("--no-roundtrip", action="store_true", help="skip the test turn (fast)")
    p.add_argument("--json", action="store_true", help="print JSON only: a list of {check, ok, detail, fix}")


@command("doctor", "check every part of the path a turn takes, then send a test turn down it", doctor_options)
def cmd_doctor(args):
    root = repo_root(os.getcwd())
    checkup = Checkup(root)
    if checkup.env.get(ENV_HOME):       # the hook keeps its spool where the settings say
        os.environ[ENV_HOME] = checkup.env[ENV_HOME]
    paint = Painter(sys.stdout)
    width = max(len(name) for name in DOCTOR_CHECKS)
    results = []
    for name, check in DOCTOR_CHECKS.items():
        if name == "roundtrip" and args.no_roundtrip:
            continue
        result = check(checkup)
        if result is None:              # a check for a path this repository does not take
            continue
        for line, (ok, detail, fix) in (result.items() if isinstance(result, dict) else [(name, result)]):
            if ok is False:
                checkup.failed.add(line)
            results.append({"check": line, "ok": ok, "detail": detail, "fix": fix})
            if not args.json:
                mark = paint.ok("ok  ") if ok else paint.bad("FAIL") if ok is False else paint.dim("skip")
                print(f"{mark}  {line:<{width}}  {detail}" + (f" — fix: {fix}" if fix else ""), flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if checkup.failed else 0


###############################################################################
# traces disable: remove what init added
###############################################################################

def clean_gitignore(root):
    """Take out the lines update_gitignore added."""
    path = os.path.join(root, ".gitignore")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        return []
    kept = [line for line in lines if line.rstrip("\n") not in (GITIGNORE_HEADER, *GITIGNORED)]
    if kept == lines:
        return []
    created = created_files()
    if not kept and os.path.realpath(path) in created:
        os.remove(path)
        remember_created([p for p in created if p != os.path.realpath(path)])
        return ["removed .gitignore"]
    write_atomic(path, "".join(kept).encode(), mode=os.stat(path).st_mode & 0o777)
    return ["updated .gitignore"]


@command("disable", "remove what init added to this repository's settings")
def cmd_disable(args):
    root = repo_root(os.getcwd())
    settings = RepoSettings(root)
    for data in (settings.shared, settings.local):
        remove_our_hooks(data)
    unwire_statusline(settings)
    settings.drop_legacy_env()
    settings.config.clear()
    settings.local_config.clear()
    written = settings.save(delete_if_emptied=True)
    if os.path.exists(os.path.join(root, LOCAL_HOOK_FILE)):
        written += write_local_hook(root, None)
    for agent in AGENTS.values():
        written += agent["unwire"](root)            # our hooks (and their trust entries) only
    folder = os.path.join(root, ".claude")
    if written and os.path.isdir(folder) and not os.listdir(folder):
        os.rmdir(folder)
    written += clean_gitignore(root)
    for line in written:
        print(line)
    print("Tracing is off for this repository." if written else "Tracing was not set up here; nothing changed.")
    print("Traces already uploaded stay where they are.")
    return 0


###############################################################################
# traces enrichment: the tags added to every trace
###############################################################################

def enrichment_options(p):
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="the enrichments and which are enabled")
    actions.add_parser("info", help="what one enrichment adds").add_argument("name")
    actions.add_parser("add", help="enable enrichments").add_argument("names", nargs="+", metavar="NAME")
    actions.add_parser("remove", help="disable enrichments").add_argument("names", nargs="+", metavar="NAME")


@command("enrichment", "choose the tags added to every trace", enrichment_options)
def cmd_enrichment(args):
    root = repo_root(os.getcwd())
    names = getattr(args, "names", None) or ([args.name] if getattr(args, "name", None) else [])
    unknown = [n for n in names if n not in ENRICHMENTS]
    if unknown:
        raise TracesError(f"unknown enrichment {', '.join(unknown)}; available: {', '.join(ENRICHMENTS)}")
    if args.action == "info":
        item = ENRICHMENTS[args.name]
        print(f"{item['name']}: {item['description']}\ntags: {', '.join(item['tags'])}")
        return 0
    if args.action == "list":
        enabled = enabled_enrichments(RepoSettings(root).env)
        for name, item in ENRICHMENTS.items():
            print(f"{'*' if name in enabled else ' '} {name:<7} {item['description']}")
        print("(* enabled)")
        return 0

    def change(env):
        enabled = enabled_enrichments(env)
        chosen = set(enabled) | set(names) if args.action == "add" else set(enabled) - set(names)
        return {ENV_ENRICHMENTS: ",".join(n for n in ENRICHMENTS if n in chosen)}
    settings = shared_settings_edit(change)
    print("enabled: " + (", ".join(enabled_enrichments(settings.env)) or "none"))
    return 0


###############################################################################
# traces redact: patterns, on/off
###############################################################################

def redact_check(env, trial):
    """`traces redact check`: stdin as it would be uploaded, with the built-in kinds, this
    repository's patterns and the ones being tried (-p); a count by kind on stderr."""
    try:
        extra = compile_patterns(custom_patterns(env) + trial)
    except ValueError as e:
        raise TracesError(str(e)) from None
    text = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    redacted = redact_text(text, extra)
    sys.stdout.write(redacted)
    sys.stdout.flush()
    from collections import Counter
    marks = r"\[REDACTED:([a-z0-9-]+)\]"
    counts = Counter(re.findall(marks, redacted)) - Counter(re.findall(marks, text))
    summary = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
    print(f"redacted {sum(counts.values())}: {summary}" if counts else "redacted nothing", file=sys.stderr)
    if env.get(ENV_REDACT, "on") == "off":
        print("Note: redaction is OFF for this repository, so uploads are not redacted (`traces redact on`).",
              file=sys.stderr)
    return 0


def redact_options(p):
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="built-in kinds and this repository's patterns")
    actions.add_parser("add", help="redact a regular expression too").add_argument("pattern", metavar="REGEX")
    actions.add_parser("remove", help="drop a custom pattern").add_argument("pattern", metavar="REGEX")
    check = actions.add_parser("check", help="print stdin as it would be uploaded (try a pattern with -p)")
    check.add_argument("-p", "--pattern", action="append", metavar="REGEX", help="also try this pattern (repeatable)")
    actions.add_parser("off", help="upload transcripts unredacted (status shows it)")
    actions.add_parser("on", help="turn redaction back on")


@command("redact", "secret redaction: patterns, on/off", redact_options)
def cmd_redact(args):
    root = repo_root(os.getcwd())
    if args.action == "list":
        env = RepoSettings(root).env
        print(f"redaction: {'on' if env.get(ENV_REDACT, 'on') != 'off' else 'OFF'}")
        print("built-in kinds: " + ", ".join(sorted({kind for kind, _, _ in REDACTIONS})))
        for pattern in custom_patterns(env):
            print(f"custom: {pattern}")
        return 0
    if args.action == "check":
        return redact_check(RepoSettings(root).env, args.pattern or [])
    if args.action == "add":
        try:
            compile_patterns([args.pattern])
        except ValueError as e:
            raise TracesError(f"{e}; nothing was changed") from None

    def change(env):
        patterns = custom_patterns(env)
        if args.action == "add" and args.pattern not in patterns:
            patterns.append(args.pattern)
        elif args.action == "remove":
            if args.pattern not in patterns:
                raise TracesError(f"no custom pattern {args.pattern!r}; see `traces redact list`")
            patterns.remove(args.pattern)
        return {ENV_REDACT_PATTERNS: json.dumps(patterns) if patterns else None,
                ENV_REDACT: {"off": "off", "on": None}.get(args.action, env.get(ENV_REDACT))}
    shared_settings_edit(change)
    if args.action == "off":
        print("Redaction is OFF for this repository: secrets in transcripts will be uploaded as they are.")
    return 0


###############################################################################
# traces hook: what Claude Code runs when a turn ends
###############################################################################

@command("hook", "called by Claude Code with its hook JSON on stdin (always exits 0)")
def cmd_hook(args=None):
    """main runs this before argparse: no parser error, and nothing may escape as an exit code.
    HOOK_COMMAND starts us in the background: leave Claude Code's process group first."""
    try:
        os.setsid()
    except OSError:
        pass
    try:
        hook(sys.stdin.buffer.read(), os.environ)
    except BaseException as e:  # noqa: BLE001 - the hook must exit 0 whatever happens
        log(f"ERROR hook: {type(e).__name__}: {e}")
    return 0


###############################################################################
# traces sync: the worker
###############################################################################

def worker_idle():
    try:
        return max(0.0, float(os.environ.get(ENV_WORKER_IDLE) or WORKER_IDLE_SECONDS))
    except ValueError:
        return WORKER_IDLE_SECONDS


def wait_for_jobs(seconds):
    """True as soon as a job is in the spool, False if none came within `seconds`."""
    deadline = time.time() + seconds
    while not pending_jobs():
        if time.time() >= deadline:
            return False
        time.sleep(WORKER_POLL_SECONDS)
    return True


def sync(args):
    """Drain the spool. The background worker the hook starts then stays warm (holding the
    lock, so hooks start no other) for the session's next turns: importing mlflow again for
    every turn would cost seconds of CPU each. It exits after WORKER_IDLE_SECONDS idle."""
    if args.background:
        os.nice(10)     # Claude is still working on this machine: uploads can wait a moment
    wait = args.wait if args.wait is not None else (RETRY_FOR_SECONDS if args.background else None)
    deadline = time.time() + (wait or 0)
    delay, busy, uploaders = 1.0, False, {}
    while True:
        fd = worker_lock(blocking=False)
        busy = fd is None
        if busy:
            # Another worker runs; it looks at the spool again before it exits.
            if wait is None or args.background:
                return 0
            if not pending_jobs() or time.time() > deadline:
                break
            time.sleep(0.5)
            continue
        try:
            ok = drain_spool(uploaders)
            while ok and args.background and wait_for_jobs(worker_idle()):
                ok = drain_spool(uploaders)
        finally:
            os.close(fd)
        # A hook that found the lock held left its job to us: look once more after letting go.
        if not pending_jobs():
            return 0
        if ok:
            if args.background:
                deadline = time.time() + wait     # retry a failing backend this long from the last success
            continue            # jobs arrived while we worked
        if wait is None or time.time() + delay > deadline:
            break
        time.sleep(delay)
        delay = min(delay * 2, 60.0)
    left = len(pending_jobs())
    if left and not args.background:
        why = "another worker is still uploading them" if busy else last_error() or "the backend did not take them"
        raise TracesError(f"{left} job(s) are still waiting: {why}; "
                          "they stay in the spool and are retried by the next hook or `traces sync`")
    return 0


def sync_options(p):
    import argparse
    p.add_argument("--wait", nargs="?", type=float, const=300.0, metavar="SECONDS",
                   help="wait until the spool is empty (default up to 300 s)")
    p.add_argument("--background", action="store_true", help=argparse.SUPPRESS)


@command("sync", "upload what waits in the spool (the hook starts this itself)", sync_options)
def cmd_sync(args):
    with in_traces_home():
        return sync(args)


###############################################################################
# traces import: past sessions
###############################################################################


class Progress:
    """A one-line progress bar with the rate and the time left, only on a terminal."""

    def __init__(self, total):
        self.total, self.on = total, sys.stderr.isatty()
        self.cr = own_control(sys.stderr, "\r")
        self.started = self.shown = time.monotonic()

    def update(self, n, turns=0):
        now = time.monotonic()
        if not self.on or (now - self.shown < 0.2 and n < self.total):
            return
        self.shown = now
        rate = n / max(now - self.started, 1e-6)
        left = (self.total - n) / rate if rate else 0
        filled = int(30 * n / max(self.total, 1))
        print(f"{self.cr}[{'#' * filled}{' ' * (30 - filled)}] {n}/{self.total} sessions, {turns} turns"
              f"  {rate:.1f} sessions/s  ETA {int(left) // 60}:{int(left) % 60:02d} ",
              end="", file=sys.stderr, flush=True)

    def done(self):
        if self.on:
            print(file=sys.stderr)


def import_options(p):
    p.add_argument("paths", nargs="*", metavar="PATH", help="transcript files or folders")
    p.add_argument("--all", action="store_true", help="every project Claude Code has transcripts for")


def check_import_backend(env):
    """Refuse a store or server import cannot use."""
    # Refused now, not after MLflow has left a lock or a checkpoint behind.
    uri = env.get(ENV_URI) or local_store_uri()
    if backend_kind(uri) == "local":
        check_home()
        check_local_store(uri.split(":///", 1)[-1])
    elif is_http(uri):
        check_server(uri, env)


def session_kind(path):
    """(agent, session id) of a session file, by its content; None for a file of no agent.
    Claude Code's test (JSON lines with a type) would take any agent's JSONL: it is tried last."""
    for name in reversed(AGENTS):
        session = AGENTS[name]["identify"](path)
        if session is not None:
            return name, session
    return None


def given_sessions(paths):
    """{path: (agent, session id)} of the session files named on the command line, each read
    as what its content is. A folder gives the files each agent keeps there (Claude Code's
    .jsonl beside each other, not its subfolders, whose agent-*.jsonl are subagents traced with
    their session; Codex's rollouts nested by date)."""
    files = {}
    for path in paths:
        if os.path.isdir(path):
            found = sorted(set().union(*(set(agent["files_in"](path)) for agent in AGENTS.values())))
        elif os.path.isfile(path):
            found = [path]
        else:
            raise TracesError(f"{path} does not exist")
        kinds = {f: session_kind(f) for f in found}
        if not any(kinds.values()):
            raise TracesError(f"{path} holds no {spoken((a['what'] for a in AGENTS.values()), 'or')}; nothing was imported")
        files.update((os.path.abspath(f), kind) for f, kind in kinds.items() if kind and kind[1])
    return files


def import_sessions(files, env):
    """Trace the sessions of these files in order ({path: (agent, session id)}): (turns
    uploaded, turns held back, the uploader)."""
    with in_traces_home():
        uploader = Uploader(env)
        total, held, progress = 0, 0, Progress(len(files))
        uploader.begin_batches()
        try:
            for i, (path, (agent, session)) in enumerate(files.items()):
                try:
                    total += trace_session(session, path, uploader, quiet_for=IMPORT_QUIET_SECONDS,
                                           context={"cwd": None, "env": env}, agent=agent)
                    if i + 1 == len(files):
                        uploader.flush()
                except BackendError as e:
                    raise TracesError(f"{e}; {total} turn(s) were uploaded before that, "
                                      "run import again to go on") from None
                held += (read_json_file(state_path(session), None) or {}).get("held", 0)
                progress.update(i + 1, total)
        finally:
            uploader.end_batches()
        progress.done()
    return total, held, uploader


@command("import", "trace past sessions (this repository's by default)", import_options)
def cmd_import(args):
    root = repo_root(os.getcwd())
    env = RepoSettings(root).env
    if not env.get(ENV_EXPERIMENT) and not env.get(ENV_EXPERIMENT_ID):
        env[ENV_EXPERIMENT] = default_experiment_name(root)   # where search and report look, init or not
    env.update(job_credentials(root, env.get(ENV_URI) or local_store_uri()))
    if args.paths:
        files = given_sessions(args.paths)
    else:
        files = {os.path.abspath(path): (name, session) for name, agent in AGENTS.items()
                 for path, session in agent["project_sessions"](root, args.all).items()}
    if not files:
        print("No transcripts found" + ("." if args.paths or args.all else f" for {root} (try --all)."))
        return 0
    # Oldest first: a session copied into a newer file (--fork-session, --resume before 2.1)
    # is then traced under its own id, and the copy is recognised as one (claim_responses).
    files = {path: files[path] for path in sorted(files, key=os.path.getmtime)}
    check_import_backend(env)
    total, held, uploader = import_sessions(files, env)
    print(f"Imported {total} new turn(s) from {len(files)} session(s) into {uploader.describe()}.")
    if held:
        print(f"Held back {held} turn(s) still in progress: Claude Code's hooks trace them when they end, "
              f"or `traces import` takes them once their session has been quiet for {IMPORT_QUIET_SECONDS // 60} minutes.")
    return 0


###############################################################################
# traces list: the backend's experiments
###############################################################################

def local_trace_stats(uri, agent=None):
    """{experiment id: (traces, last trace ms)} straight from a local SQLite store: one query
    instead of paging through every trace; None when the store is not laid out as expected.
    With an agent, its traces only (an untagged trace is Claude Code's, as trace_agent says)."""
    import sqlite3
    path = uri.split(":///", 1)[-1]
    where, values = "", []
    if agent:
        where = ("WHERE COALESCE(NULLIF((SELECT x.value FROM trace_tags x WHERE x.request_id = t.request_id "
                 "AND x.key = ?), ''), ?) = ?")
        values = [TAG_AGENT, DEFAULT_AGENT, agent]
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute(f"SELECT experiment_id, COUNT(*), MAX(timestamp_ms) FROM trace_info t {where} "
                              "GROUP BY experiment_id", values).fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return {str(e): (n, last) for e, n, last in rows}


def list_options(p):
    p.add_argument("--agent", choices=tuple(AGENTS),
                   help="count one agent's traces only (on a server: the date of its newest trace)")


@command("list", "the experiments on this repository's backend, with trace counts", list_options)
def cmd_list(args):
    root = repo_root(os.getcwd())
    backend = Backend(root)
    experiments = backend.experiments()
    stats = local_trace_stats(backend.uri, args.agent) if backend_kind(backend.uri) == "local" else None
    if stats is None:
        # A server: no count API, so only the newest trace of each experiment (one small request;
        # for Claude Code's, whose oldest traces have no tag to ask for, as many as it takes).
        from concurrent.futures import ThreadPoolExecutor
        filter_string, check = trace_filters(args, root)

        def newest(experiment):
            if not args.agent:
                found = [t.info for t in backend.call("search traces", backend.client.search_traces,
                                                      locations=[experiment.experiment_id], max_results=1,
                                                      order_by=["timestamp_ms DESC"], include_spans=False)]
            else:
                found = find_traces(backend, [experiment.experiment_id], filter_string, check, 1)
            return experiment.experiment_id, (None, found[0].request_time if found else None)
        with ThreadPoolExecutor(max_workers=8) as pool:
            stats = dict(pool.map(newest, experiments))
    name, experiment_id = backend.current()
    paint = Painter(sys.stdout)
    rows = sorted(experiments, key=lambda e: (-(stats.get(e.experiment_id, (0, None))[1] or 0), e.name))
    id_width = max([2] + [len(e.experiment_id) for e in rows])
    name_width = max([4] + [len(e.name) for e in rows])
    print(f"  {'ID':<{id_width}}  {'NAME':<{name_width}}  {'TRACES':>6}  LAST TRACE")
    for e in rows:
        count, last = stats.get(e.experiment_id, (0 if stats else None, None))
        mine = e.name == name or e.experiment_id == experiment_id
        line = (f"{'*' if mine else ' '} {e.experiment_id:<{id_width}}  {e.name:<{name_width}}  "
                f"{'-' if count is None else count:>6}  {local_time(last) if last else '-'}")
        print(paint.bold(line) if mine else line)
    only = f"; traces of {args.agent} only" if args.agent else ""
    print(f"{len(rows)} experiment(s) at {backend.uri}; * = this repository's ({describe_current(backend)}){only}")
    return 0


###############################################################################
# traces search: find turns
###############################################################################

def search_options(p):
    p.add_argument("-l", "--limit", type=positive(int), default=10, metavar="N", help="at most N turns (default 10; 0: all)")
    p.add_argument("-f", "--format", choices=list(SEARCH_FORMATS), default="summary", help="output (default summary)")
    p.add_argument("--hours", type=positive(float), metavar="N", help="turns of the last N hours")
    p.add_argument("--since", type=since_time, metavar="WHEN",
                   help="turns from then on: an ISO date or date-time (local time), or 12h, 7d, 4w ago")
    p.add_argument("--session", metavar="ID", help="turns of one session (an id prefix is enough)")
    p.add_argument("--branch", metavar="NAME", help="turns on a git branch")
    p.add_argument("--agent", choices=tuple(AGENTS), help="turns of one agent")
    p.add_argument("--tool", metavar="NAME", help="turns that used a tool (Bash, Edit, Agent, mcp__...)")
    p.add_argument("--file", metavar="PATH", help="turns that changed a file (or a file under a folder)")
    p.add_argument("--status", choices=("ok", "error", "interrupted"),
                   help="turns that went well, had a failed tool call, or were interrupted with Escape")
    p.add_argument("--trace-id", metavar="ID", help="one trace")
    experiment_options(p)
    p.add_argument("--max-chars", type=positive(int), default=50_000, metavar="N",
                   help="-f context: size budget in characters (default 50000)")


@command("search", "find turns: newest first, filtered, as summary, json, context or tools", search_options)
def cmd_search(args):
    root = repo_root(os.getcwd())
    backend = Backend(root)
    render = SEARCH_FORMATS[args.format]
    filter_string, check = trace_filters(args, root)
    if args.trace_id:
        trace = backend.trace(args.trace_id)
        matched = [trace] if check(trace.info) else []
        where = f"trace {args.trace_id}"
        items = matched if render["needs_spans"] else [t.info for t in matched]
    else:
        infos = find_traces(backend, backend.locations(args), filter_string, check, args.limit)
        where = "all experiments" if args.all else f"experiment {args.experiment or describe_current(backend)}"
        items = backend.traces([i.trace_id for i in infos]) if render["needs_spans"] else infos
    if not items:
        if args.format == "json":
            # stdout stays parseable: an empty list there, the sentence on stderr.
            render["render"]([], args)
        print(f"No traces found in {where} at {backend.uri} for these filters.",
              file=sys.stderr if args.format == "json" else sys.stdout)
        return 0
    # A turn shown unnamed is Claude Code's: every turn names its agent as soon as one shown is
    # another agent's. (Asking whether the experiment holds several agents costs a pass over all
    # its traces: `search` took twice as long on 40,000 turns of one agent, bench_agents at c90e88d.)
    args.several_agents = render["per_turn"] and {trace_agent(info) for info in items} != {DEFAULT_AGENT}
    render["render"](items, args)
    return 0


###############################################################################
# traces report: tokens and cost
###############################################################################

BLOCK_MS = 5 * 3600 * 1000      # Claude's subscriptions count usage in windows of 5 hours
HOUR_MS = 3600 * 1000


def per_turn(key):
    """Row keys read off each turn by itself."""
    return lambda infos: [key(info) for info in infos]


def turn_models(info):
    # A turn's tags are per turn: a turn that used two models counts under both names together.
    return info.trace_metadata.get(META_MODELS) or "(unknown)"


def billing_blocks(infos):
    """Each turn's 5-hour block, found as ccusage finds them: a block starts at its first turn's
    time floored to the hour (UTC's hour: in a zone half an hour off UTC it starts at :30) and
    holds every turn that starts at most 5 hours later; a turn after that starts the next block.
    (ccusage also ends a block after a 5-hour gap, which can only happen after its end.)
    Labelled by the block's start in local time."""
    keys, start, label = [None] * len(infos), None, None
    for n in sorted(range(len(infos)), key=lambda n: infos[n].request_time):
        when = infos[n].request_time
        if start is None or when - start > BLOCK_MS:
            start = when - when % HOUR_MS
            label = time.strftime("%Y-%m-%d %H:%M", time.localtime(start / 1000))
        keys[n] = label
    return keys


# --by: {name: row keys of a list of turns}; the first four are periods, shown in time order.
REPORT_KEYS = {
    "day": per_turn(lambda info: time.strftime("%Y-%m-%d", time.localtime(info.request_time / 1000))),
    "week": per_turn(lambda info: time.strftime("%G-W%V", time.localtime(info.request_time / 1000))),   # ISO 8601
    "month": per_turn(lambda info: time.strftime("%Y-%m", time.localtime(info.request_time / 1000))),
    "block": billing_blocks,
    "session": per_turn(lambda info: info.trace_metadata.get(META_SESSION) or "(none)"),
    "model": per_turn(turn_models),
    "branch": per_turn(lambda info: info.tags.get("git.branch") or "(none)"),
    "user": per_turn(lambda info: info.trace_metadata.get(META_USER) or "(unknown)"),
    "agent": per_turn(trace_agent),
}
REPORT_PERIODS = ("day", "week", "month", "block")
REPORT_TOKENS = ("input", "output", "cache_read", "cache_creation", "total")
REPORT_READS = {*(f"tokens.{kind}" for kind in REPORT_TOKENS), "cost.usd", "git.branch", META_MODELS, META_USER, TAG_AGENT}


def filter_keys(args):
    """The tags trace_filters' check reads for these options."""
    keys = {"branch": "git.branch", "agent": TAG_AGENT, "status": TAG_STATUS, "tool": TAG_TOOLS, "file": "files.modified"}
    return {key for option, key in keys.items() if getattr(args, option, None)}


def report_options(p):
    p.add_argument("--by", choices=list(REPORT_KEYS), default="day",
                   help="one row per (default day; week: ISO week; block: 5-hour billing window)")
    p.add_argument("--since", type=since_time, metavar="WHEN",
                   help="turns from then on: an ISO date or date-time (local time), or 12h, 7d, 4w ago")
    p.add_argument("--until", type=until_time, metavar="WHEN",
                   help="turns before then (a date: to the end of that day, as ccusage counts)")
    p.add_argument("--breakdown", action="store_true", help="per model inside each row")
    p.add_argument("--json", action="store_true", help="print JSON only")
    p.add_argument("--agent", choices=tuple(AGENTS), help="turns of one agent only")
    experiment_options(p)


def empty_row():
    return {"turns": 0, "tokens": dict.fromkeys(REPORT_TOKENS, 0), "cost_usd": 0.0, "turns_without_cost": 0}


def add_turn(row, tokens, cost):
    row["turns"] += 1
    for kind, count in tokens.items():
        row["tokens"][kind] += count
    if cost is None:
        row["turns_without_cost"] += 1
    else:
        row["cost_usd"] += cost


def priced(row):
    """The row with its cost the sum over its priced turns (turns_without_cost says how many are
    not in it); None, JSON null, where no turn has a price: a $0 would read as free."""
    unpriced = row["turns"] and row["turns_without_cost"] == row["turns"]
    return {**row, "cost_usd": None if unpriced else round(row["cost_usd"], 6)}


def in_order(rows, by):
    """[(key, row)]: periods in time order, the others costliest first."""
    return sorted(rows.items(), key=lambda item: item[0] if by in REPORT_PERIODS else (-item[1]["cost_usd"], item[0]))


def report_rows(infos, by, breakdown):
    """([{key, turns, tokens, cost_usd, turns_without_cost, models (with breakdown)}], total)."""
    rows, models, total = {}, {}, empty_row()
    for info, key in zip(infos, REPORT_KEYS[by](infos), strict=True):
        tokens = {kind: int_tag(info, "tokens." + kind) for kind in REPORT_TOKENS}
        cost = cost_tag(info)
        add_turn(rows.setdefault(key, empty_row()), tokens, cost)
        add_turn(total, tokens, cost)
        if breakdown:
            add_turn(models.setdefault(key, {}).setdefault(turn_models(info), empty_row()), tokens, cost)
    listed = []
    for key, row in in_order(rows, by):
        listed.append({"key": key, **priced(row)})
        if breakdown:
            listed[-1]["models"] = [{"model": name, **priced(r)} for name, r in in_order(models[key], "model")]
    return listed, priced(total)


def print_report(rows, total, by):
    paint = Painter(sys.stdout)
    width = max([len(by), 5] + [len(r["key"]) for r in rows] + [2 + len(m["model"]) for r in rows for m in r.get("models", [])])
    header = f"{by.upper():<{width}}  {'TURNS':>6}  {'INPUT':>10}  {'OUTPUT':>10}  {'CACHE READ':>12}  " \
             f"{'CACHE WRITE':>12}  {'TOTAL':>12}  {'COST':>10}"
    print(paint.bold(header))

    def line(key, r):
        cost = money(r["cost_usd"]) + ("*" if r["turns_without_cost"] else " ")
        t = r["tokens"]
        return (f"{key:<{width}}  {r['turns']:>6}  {t['input']:>10,}  {t['output']:>10,}  {t['cache_read']:>12,}  "
                f"{t['cache_creation']:>12,}  {t['total']:>12,}  {cost:>11}")
    for row in rows:
        print(line(row["key"], row))
        for model in row.get("models", []):
            print(paint.dim(line("  " + model["model"], model)))
    print(paint.bold(line("TOTAL", total)))
    if total["turns_without_cost"]:
        print(f"* {total['turns_without_cost']} of {total['turns']} turn(s) used a model without a known price: "
              "their cost is not included.")


@command("report", "tokens and cost by day, week, month, 5-hour block, session, model, branch, user or agent",
         report_options)
def cmd_report(args):
    if args.since and args.until and args.since >= args.until:
        raise TracesError(f"--since (from {local_time(args.since * 1000)}) is not before --until "
                          f"(before {local_time(args.until * 1000)}): no turn can be in between")
    root = repo_root(os.getcwd())
    backend = Backend(root)
    backend.reads_only(REPORT_READS | filter_keys(args))
    filter_string, check = trace_filters(args, root)
    infos = find_traces(backend, backend.locations(args), filter_string, check, 0)
    rows, total = report_rows(infos, args.by, args.breakdown)
    if args.json:
        print(json.dumps({"by": args.by, "rows": rows, "total": total}, indent=2, sort_keys=True))
    elif not infos:
        print(f"No traces found at {backend.uri} for these filters.")
    else:
        print_report(rows, total, args.by)
    return 0


###############################################################################
# traces show: a turn, or a whole session, step by step
###############################################################################

FULL_TRACE_ID = re.compile(r"tr-[0-9a-f]{32}")
TRACE_ID_PREFIX = re.compile(r"(tr-)?[0-9a-f]{1,31}")


def show_options(p):
    p.add_argument("trace_id", nargs="?", metavar="TRACE_ID", help="the turn's trace id (a unique prefix is enough)")
    p.add_argument("--session", metavar="ID", help="every turn of a session, oldest first (a unique id prefix is enough)")
    p.add_argument("--full", action="store_true", help="tool results, thinking and diffs whole, not cut to a few lines")
    p.add_argument("-f", "--format", choices=list(SHOW_FORMATS), default="text",
                   help="output (default text; markdown to paste into a pull request or an issue)")
    p.add_argument("--no-pager", action="store_true", help="do not page long output on a terminal")
    experiment_options(p)


def searched(backend, args):
    return "all experiments" if args.all else f"experiment {args.experiment or describe_current(backend)}"


def resolve_trace_id(backend, args, given):
    """The whole trace id for an id or a unique prefix of one (with or without `tr-`), looked
    for among the experiment's traces."""
    if FULL_TRACE_ID.fullmatch(given) or not TRACE_ID_PREFIX.fullmatch(given):
        return given
    wanted = given if given.startswith("tr-") else "tr-" + given
    backend.reads_only(())
    found = [i.trace_id for i in find_traces(backend, backend.locations(args), None,
                                             lambda info: info.trace_id.startswith(wanted), 0)]
    backend.reads_only(None)
    _one_id(found, given, "trace", "lists trace ids", backend, args)
    return found[0]


def _one_id(found, given, kind, lists, backend, args):
    """Refuse a prefix `given` that starts none of the `kind` ids `found`, or more than one."""
    if not found:
        raise TracesError(f"no {kind} id starts with {given} in {searched(backend, args)} at {backend.uri}; "
                          f"`traces search` {lists} (-e NAME or --all looks elsewhere)")
    if len(found) > 1:
        raise TracesError(f"{given} starts {len(found)} {kind} ids ({', '.join(found[:4])}"
                          f"{', ...' if len(found) > 4 else ''}); give more of it")


def session_trace_ids(backend, args, root):
    """The trace ids of the session args.session names (an id or a unique prefix), oldest first."""
    backend.reads_only(())
    filter_string, check = trace_filters(args, root)
    infos = find_traces(backend, backend.locations(args), filter_string, check, 0)
    backend.reads_only(None)
    sessions = sorted({info.trace_metadata.get(META_SESSION) for info in infos})
    _one_id(sessions, args.session, "session", "shows sessions", backend, args)
    return [info.trace_id for info in sorted(infos, key=lambda info: (info.request_time, info.trace_id))]


def page(text, args):
    """Print text, through a pager like `git log` does when stdout is a terminal and the text
    is longer than its screen: $PAGER, else `less -FRX` (LESS=FRX unless set: colours pass,
    a screenful quits at once)."""
    import shutil
    pager = os.environ.get("PAGER", "less -FRX" if shutil.which("less") else "").strip()
    if args.no_pager or not sys.stdout.isatty() or pager in ("", "cat") \
            or text.count("\n") < shutil.get_terminal_size().lines:
        sys.stdout.write(text)
        return
    import signal
    import subprocess
    sys.stdout.flush()
    process = subprocess.Popen(pager, shell=True, stdin=subprocess.PIPE, encoding="utf-8", errors="replace",
                               env={"LESS": "FRX", **os.environ})
    # What reaches the pager passes terminal_safe too; the key lets Painter's colours through.
    stream = TerminalStream(process.stdin)
    stream.key = getattr(sys.stdout, "key", stream.key)
    # Ctrl-C in the pager is the pager's: we wait for it to end, as git does, rather than leave
    # it on the terminal behind a new prompt.
    interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        stream.write(text)
        process.stdin.close()
    except BrokenPipeError:         # the reader quit the pager before the end
        pass
    finally:
        process.wait()
        signal.signal(signal.SIGINT, interrupt)


@command("show", "a turn, or a whole session, replayed step by step", show_options)
def cmd_show(args):
    if bool(args.trace_id) == bool(args.session):
        raise TracesError("give a trace id or --session ID, one of them (`traces search` lists both)")
    root = repo_root(os.getcwd())
    backend = Backend(root)
    ids = session_trace_ids(backend, args, root) if args.session else [resolve_trace_id(backend, args, args.trace_id)]
    turns = [turn_replay(trace) for trace in backend.traces(ids)]
    page(SHOW_FORMATS[args.format](turns, args), args)
    return 0


###############################################################################
# traces blame: the agent turn that wrote each line of a file
###############################################################################

# A line is a turn's when its exact text is what one of the turn's tool calls wrote into the
# file (a whole-file write, an edit's new text, a patch's added lines: the inputs the trace
# keeps, redacted as they were stored), and the turn wrote it before git saw the line change:
# `git blame` of the file as it is names the commit that last changed each line, and a turn
# after that commit only re-wrote what was already there (a whole-file write repeats every
# line). A line changed since to other text matches no write; of several turns that wrote
# the same text before the line's commit, the newest made it what it is. Text with no content
# of its own (a blank line, `}`, `else:`) is in every write, so it is a turn's only when the
# content lines around it are that turn's too.
BLAME_PATH_KEYS = ("file_path", "path")       # Claude Code, Gemini CLI; Copilot CLI
BLAME_WHOLE_KEYS = ("content", "file_text")   # Write, write_file; create: the whole file
BLAME_EDIT_KEYS = (("old_string", "new_string"), ("old_str", "new_str"))  # Edit, MultiEdit, replace; edit
WORD = re.compile(r"\w+")
BARE_WORDS = {"else", "end", "try", "finally", "do", "done", "then", "fi", "esac", "begin", "pass",
              "break", "continue", "return", "default"}
BLAME_HEADER = re.compile(r"[0-9a-f]{40} \d+ \d+")
UNCOMMITTED = "0" * 40


def has_content(text):
    """Whether a line says something of its own: a word that is not a keyword alone."""
    return any(word not in BARE_WORDS for word in WORD.findall(text.lower()))


def changed_lines(before, after):
    """The indexes of after's lines that are not before's kept (difflib's inserted and replaced)."""
    import difflib
    opcodes = difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
    return [j for tag, _, _, j1, j2 in opcodes if tag in ("replace", "insert") for j in range(j1, j2)]


def patch_additions(text):
    """{path named in an apply_patch text: the lines it adds to that file} (a moved file's under
    its new name); a line a hunk removes and adds again is kept, not added."""
    added, path, removed, adding = {}, None, [], []
    for line in text.splitlines() + ["*** End Patch"]:
        if line[:1] in ("+", "-") and path:
            (removed if line[0] == "-" else adding).append(line[1:])
            continue
        # A context line, a hunk or a file header ends a block of changes.
        if adding:
            added.setdefault(path, []).extend(adding[j] for j in changed_lines(removed, adding))
        removed, adding = [], []
        named = PATCH_FILE.match(line)
        if named:
            path = named.group(1)
    return added


def edit_lines(old, new):
    """(whole lines, fragments) an edit wrote: the lines of its new text that are not kept from
    the old (an edit repeats the lines around its change); the first and last join text the edit
    kept (the indentation before, the rest of the line after), so they are compared stripped."""
    after = new.split("\n")
    changed = changed_lines(old.split("\n"), after)
    ends = (0, len(after) - 1)
    return [after[j] for j in changed if j not in ends], [after[j].strip() for j in changed if j in ends]


def tool_writes(inputs, cwd):
    """[(path, whole lines, fragments)] a tool call's inputs wrote, whatever the agent (by their keys)."""
    if not isinstance(inputs, dict):
        return []
    writes = []
    path = next((inputs[k] for k in BLAME_PATH_KEYS if isinstance(inputs.get(k), str)), None)
    if path:
        for key in BLAME_WHOLE_KEYS:
            if isinstance(inputs.get(key), str):
                writes.append((path, inputs[key].split("\n"), []))
        edits = [inputs] + [e for e in inputs.get("edits") or [] if isinstance(e, dict)]
        for edit in edits:
            for old, new in BLAME_EDIT_KEYS:
                if isinstance(edit.get(new), str):
                    writes.append((path, *edit_lines(str(edit.get(old) or ""), edit[new])))
    where = inputs.get("workdir") if isinstance(inputs.get("workdir"), str) else cwd
    texts = [v for v in inputs.values() if isinstance(v, str)] + [
        x for v in inputs.values() if isinstance(v, list) for x in v if isinstance(x, str)]
    for text in texts:
        if "*** Begin Patch" in text:
            writes += [(os.path.join(where or "", p), lines, []) for p, lines in patch_additions(text).items()]
    return [(os.path.normpath(os.path.join(cwd or "", p)), whole, parts) for p, whole, parts in writes]


def names_file(path, names, root):
    """Whether a written path is the file under one of its names (repository-relative): in this
    repository, exactly; in another clone (a turn traced elsewhere), by its tail."""
    if path.startswith(root.rstrip(os.sep) + os.sep):
        return os.path.relpath(path, root) in names
    return any(path == name or path.endswith("/" + name) for name in names)


def turn_writes(trace, names, root):
    """{exact line: [(time, trace)]} and {fragment: [(time, trace)]} of what one turn's successful
    tool calls (its subagents' too) wrote into the file; time: when the call started, in seconds."""
    cwd = trace.info.trace_metadata.get("claudetracing.cwd") or ""
    whole, parts = {}, {}
    for span in trace.data.spans:
        status = str(getattr(span.status.status_code, "value", span.status.status_code))
        if span.span_type != "TOOL" or status == "ERROR":
            continue
        for path, lines, fragments in tool_writes(span.inputs, cwd):
            if names_file(path, names, root):
                when = (span.start_time_ns or 0) / 1e9
                for line in lines:
                    whole.setdefault(line, []).append((when, trace))
                for line in fragments:
                    parts.setdefault(line, []).append((when, trace))
    return whole, parts


def git_blame(root, rel):
    """[(time of the commit that last changed it, or None: not committed yet)] per line of the
    file as it is; None when git has no history of it (outside a repository, not added yet)."""
    import subprocess
    done = subprocess.run(["git", "blame", "--line-porcelain", "--", rel], cwd=root, capture_output=True)
    if done.returncode != 0:
        return None
    times, commit, when = [], None, None
    for line in done.stdout.decode("utf-8", "replace").split("\n"):
        if line.startswith("\t"):
            times.append(None if commit == UNCOMMITTED else when)
        elif line.startswith("committer-time "):
            when = int(line.split()[1])
        elif BLAME_HEADER.match(line):
            commit = line[:40]
    return times


def history_names(root, rel):
    """The names the file had in git (`git log --follow`), its own first."""
    found = run(["git", "log", "--follow", "--name-only", "--format=", "--", rel], cwd=root) or ""
    return list(dict.fromkeys([rel] + [n for n in found.splitlines() if n]))


def blame_turns(backend, args, names):
    """The turns whose files.modified tag names the file under one of its names, with their spans."""
    locations, found = backend.locations(args), {}
    for name in names:
        clause = f"tags.`files.modified` LIKE '%{like_escape(os.path.basename(name))}%'"
        for info in find_traces(backend, locations, clause,
                                lambda info, name=name: file_matches(name, trace_files(info)), 0):
            found.setdefault(info.trace_id, info)
    return backend.traces(list(found))


def attribute(texts, times, turns, names, root):
    """The trace id that wrote each line (None: no traced turn did), times: git_blame's."""
    import bisect
    whole, parts = {}, {}
    for trace in turns:
        exact, fragments = turn_writes(trace, names, root)
        for table, more in ((whole, exact), (parts, fragments)):
            for text, writes in more.items():
                table.setdefault(text, []).extend(writes)

    def writers(i):
        # A second's slack: git keeps whole seconds, and an agent may commit what it just wrote.
        limit = None if times is None or times[i] is None else times[i] + 1
        return [(when, trace.info.trace_id) for when, trace in whole.get(texts[i], []) + parts.get(texts[i].strip(), [])
                if limit is None or when <= limit]
    owners = [None] * len(texts)
    content = [i for i, text in enumerate(texts) if has_content(text)]
    for i in content:
        found = writers(i)
        owners[i] = max(found)[1] if found else None
    for i, text in enumerate(texts):
        if not has_content(text):
            k = bisect.bisect(content, i)
            around = {owners[j] for j in content[max(k - 1, 0):k + 1]}
            if len(around) == 1 and None not in around and around <= {trace_id for _, trace_id in writers(i)}:
                owners[i] = around.pop()
    return owners


def blame_rows(texts, owners, infos, first, last):
    """The lines first..last (1-based) as the JSON schema shows them, with the turns they name."""
    lines = [{"line": n, "text": texts[n - 1], "trace_id": owners[n - 1]} for n in range(first, last + 1)]
    counts = {}
    for line in lines:
        if line["trace_id"]:
            counts[line["trace_id"]] = counts.get(line["trace_id"], 0) + 1
    turns = [{"trace_id": trace_id, "start_time": iso_ms(infos[trace_id].request_time),
              "agent": trace_agent(infos[trace_id]), "session": infos[trace_id].trace_metadata.get(META_SESSION),
              "prompt": infos[trace_id].request_preview or "", "lines": count}
             for trace_id, count in sorted(counts.items(), key=lambda item: -infos[item[0]].request_time)]
    agents = {}
    for turn in turns:
        agents[turn["agent"]] = agents.get(turn["agent"], 0) + turn["lines"]
    attributed = sum(counts.values())
    summary = {"lines": len(lines), "attributed": attributed, "unattributed": len(lines) - attributed,
               "agents": agents}
    return lines, turns, summary


def print_blame(lines, turns, infos, paint):
    """Like `git blame`: who wrote each line, the prompt at the first line of each run of one turn's."""
    agent_width = max([len(t["agent"]) for t in turns] + [5])
    number_width = len(str(lines[-1]["line"])) if lines else 1
    # Each turn's columns once, with its prompt and without: a file has thousands of lines, tens of turns.
    columns = {None: (" " * (11 + 2 + 16 + 2 + agent_width + 2 + 24),) * 2}
    for turn in turns:
        who = f"{paint.accent(turn['trace_id'][:11])}  {local_time(infos[turn['trace_id']].request_time)}  " \
              f"{turn['agent']:<{agent_width}}  "
        columns[turn["trace_id"]] = (who + paint.dim(f"{first_line(turn['prompt'], 24):<24}"), who + " " * 24)
    rows, previous = [], object()
    for line in lines:
        left = columns[line["trace_id"]][line["trace_id"] == previous]
        previous = line["trace_id"]
        rows.append(f"{left} {line['line']:>{number_width}} │" + (f" {line['text']}" if line["text"] else ""))
    if rows:
        print("\n".join(rows))


def print_blame_summary(file, turns, summary, infos, paint):
    total, attributed = summary["lines"], summary["attributed"]

    def share(count):
        return f"{100 * count / total:.0f}%" if total else "-"
    print(f"{file}: {total} line(s), {attributed} written by traced turns ({share(attributed)}), "
          f"{summary['unattributed']} by no traced turn")
    if not turns:
        return
    width = max(len(a) for a in summary["agents"]) + 2
    print()
    print(paint.bold(f"{'AGENT':<{width}}{'LINES':>6}  {'SHARE':>5}"))
    for agent, count in sorted(summary["agents"].items(), key=lambda item: -item[1]):
        print(f"{agent:<{width}}{count:>6}  {share(count):>5}")
    print()
    print(paint.bold(f"{'TURN':<13}{'DATE':<18}{'AGENT':<{width}}{'LINES':>6}  {'SHARE':>5}  PROMPT"))
    for turn in turns:
        print(f"{turn['trace_id'][:11]:<13}{local_time(infos[turn['trace_id']].request_time):<18}{turn['agent']:<{width}}"
              f"{turn['lines']:>6}  {share(turn['lines']):>5}  {first_line(turn['prompt'], 60)}")


def line_range(text):
    """-L START,END: 1-based, both included."""
    import argparse
    try:
        first, last = (int(part) for part in text.split(","))
    except ValueError:
        first = last = 0
    if not 1 <= first <= last:
        raise argparse.ArgumentTypeError(f"{text!r} is not START,END (line numbers from 1, START <= END)")
    return first, last


def blame_options(p):
    p.add_argument("file", metavar="FILE", help="a file of this repository, as it is now")
    p.add_argument("-L", dest="range", type=line_range, metavar="START,END", help="only lines START to END")
    p.add_argument("--summary", action="store_true",
                   help="the share of lines per agent and per turn, and how many no traced turn wrote")
    p.add_argument("--json", action="store_true", help="print JSON only")
    experiment_options(p)


def read_lines_of(path, shown):
    """The file's lines (no line ends); an error that says why when it cannot be read."""
    if not os.path.isfile(path):
        raise TracesError(f"{shown} is not a file" + ("" if os.path.exists(path) else " (it does not exist)"))
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError as e:
        raise TracesError(f"cannot read {shown}: {e.strerror}") from None
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


@command("blame", "the agent turn that wrote each line of a file", blame_options)
def cmd_blame(args):
    root = repo_root(os.getcwd())
    path = os.path.abspath(args.file)
    rel = os.path.relpath(path, root)
    if rel.startswith(".." + os.sep):
        raise TracesError(f"{args.file} is outside this repository ({root})")
    texts = read_lines_of(path, args.file)
    first, last = args.range or (1, len(texts))
    if texts and last > len(texts) or not texts and args.range:
        raise TracesError(f"{args.file} has {len(texts)} line(s): -L {first},{last} is past its end")
    times = git_blame(root, rel)
    if times is not None and len(times) != len(texts):
        raise TracesError(f"git blame and {args.file} disagree on its lines (was it changed meanwhile?); try again")
    backend = Backend(root)
    names = history_names(root, rel)
    turns = blame_turns(backend, args, names)
    infos = {trace.info.trace_id: trace.info for trace in turns}
    lines, shown, summary = blame_rows(texts, attribute(texts, times, turns, names, root), infos, first, last)
    if args.json:
        body = {"file": rel, "turns": shown, "summary": summary}
        if not args.summary:
            body["lines"] = lines
        print(json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False))
    elif args.summary:
        print_blame_summary(rel, shown, summary, infos, Painter(sys.stdout))
    else:
        print_blame(lines, shown, infos, Painter(sys.stdout))
    return 0


###############################################################################
# traces statusline: this repository's tracing and spend, for Claude Code's status line
###############################################################################

STATUSLINE_JOBS_READ = 100      # jobs read to find this project's; past that the spool counts whole
STATUSLINE_REASON = 40          # characters of the reason shown


def project_jobs(project):
    """How many spool jobs are this project's (the status line runs on every screen update:
    a spool that grew large while a backend was down is counted without reading it)."""
    jobs = pending_jobs()
    if len(jobs) > STATUSLINE_JOBS_READ:
        return len(jobs)
    found = (read_json_file(path) for path in jobs)
    return sum(isinstance(job, dict) and job.get("project_dir") == project for job in found)


def statusline_text(payload, summary, waiting, reason, now):
    """One line: traced turns of this session (or what waits, and why), then what this session,
    today and this branch have spent."""
    session = payload.get("session_id") if isinstance(payload.get("session_id"), str) else ""
    workspace = payload.get("workspace") if isinstance(payload.get("workspace"), dict) else {}
    project = workspace.get("project_dir") or payload.get("cwd") or ""
    project = project if isinstance(project, str) else ""
    branch = git_head_branch(project) if project else ""
    spent = spend_of(summary, project, session, branch, now)
    if waiting or reason:
        why = f": {reason[:STATUSLINE_REASON]}{'…' if len(reason) > STATUSLINE_REASON else ''}" if reason else ""
        state = f"⏳ {waiting} waiting{why}"
    else:
        entry = summary["sessions"].get(session) or {}
        turns = entry.get("count", 0) + len(entry.get("turns", {}))
        state = f"✓ {turns} turn{'' if turns == 1 else 's'}"
    parts = [f"traces {state}", f"session {dollars(spent['session'])}", f"today {dollars(spent['day'])}"]
    if branch:
        parts.append(f"{branch} {dollars(spent['branch'])}")
    return terminal_safe(" · ".join(parts))


def statusline(payload, summary):
    """Print the line for a status-line input."""
    workspace = payload.get("workspace") if isinstance(payload.get("workspace"), dict) else {}
    waiting = project_jobs(workspace.get("project_dir") or payload.get("cwd"))
    problem = recorded_problem()        # "N turn(s) waiting: what. Fix: how", for every repository
    if problem:
        count, _, rest = problem.partition(" turn(s) waiting: ")
        waiting = waiting or (int(count) if count.isdigit() else 0)
        reason = rest.partition(". Fix:")[0]
    else:
        reason = summary.get("trouble", "") if waiting else ""
    print(statusline_text(payload, summary, waiting, reason, time.time()))
    return 0


@command("statusline", "one line for Claude Code's status line (stdin: its status-line JSON)")
def cmd_statusline(args=None):
    try:
        payload = json.loads(sys.stdin.buffer.read() or b"{}")
    except ValueError:
        payload = {}
    payload = payload if isinstance(payload, dict) else {}
    try:
        return statusline(payload, read_summary())
    except (KeyError, TypeError, AttributeError, ValueError):
        print("traces: the spend summary is unreadable (the next turn traced writes it afresh)")
        return 0


###############################################################################
# traces budget: limits on what a session, a day, a week or a branch may spend
###############################################################################

def budget_amount(text):
    import argparse
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number > 0")
    return value


def budget_options(p):
    import argparse
    p.add_argument("action", nargs="?", choices=("show", "set", "off"), default="show",
                   help="show spend against each budget (default), set budgets, or take them off")
    for scope, label in BUDGET_SCOPES.items():
        p.add_argument(f"--{scope}", type=budget_amount, metavar="USD", help=f"what {label} may spend")
    p.add_argument("--warn-at", type=budget_amount, metavar="PCT",
                   help=f"warn before each prompt from this share of a budget (default {BUDGET_WARN_AT})")
    p.add_argument("--block", action=argparse.BooleanOptionalAction,
                   help="refuse prompts once a budget is spent (--no-block: warn only)")
    p.add_argument("--local", action="store_true",
                   help="this machine's budgets (.claude/traces.local.json), over the team's (.claude/traces.json)")


def set_budget_hook(data, on):
    """Add (once) or remove our UserPromptSubmit hook, keeping every other hook."""
    hooks = data.get("hooks") or {}
    groups = hooks.get(BUDGET_EVENT, [])
    kept = [g for g in ({**g, "hooks": [h for h in g.get("hooks", []) if not (isinstance(h, dict) and is_our_hook(
        h.get("command")))]} for g in groups) if g["hooks"]]
    if on:
        kept.append({"hooks": [{"type": "command", "command": BUDGET_COMMAND}]})
    if kept == groups:
        return
    if kept:
        data.setdefault("hooks", {})[BUDGET_EVENT] = kept
    else:
        hooks.pop(BUDGET_EVENT, None)
        if not hooks:
            data.pop("hooks", None)


def checked_budgets(settings):
    """The team's and this machine's budgets; Error (nothing changed) when one is malformed."""
    found = []
    for name, config in ((CONFIG_FILE, settings.config), (LOCAL_CONFIG_FILE, settings.local_config)):
        budget = config.get("budget", {})
        problem = budget_problem(budget)
        if problem:
            raise TracesError(f"{os.path.join(settings.root, name)}: {problem}; fix it and run this again; "
                              f"the file was not changed")
        found.append(budget)
    return found


def change_budget(args, settings):
    """Apply `set` or `off` to the team's file (or this machine's, --local), and keep the hook
    beside the budget it serves (settings.json for the team, settings.local.json otherwise)."""
    config, hooks = (settings.local_config, settings.local) if args.local else (settings.config, settings.shared)
    if args.action == "off":
        config.pop("budget", None)
    else:
        given = {scope: getattr(args, scope) for scope in BUDGET_SCOPES if getattr(args, scope) is not None}
        if args.warn_at is not None:
            given["warn_at"] = args.warn_at
        if args.block is not None:
            given["block"] = args.block
        if not given:
            raise TracesError("say what to set: --session, --day, --week or --branch USD, --warn-at PCT, --block")
        config["budget"] = {**config.get("budget", {}), **given}
    set_budget_hook(hooks, bool(config.get("budget")))


def show_budgets(root, budget, summary, now):
    """Spend of this repository's newest session, today, this week and on this branch, against
    each budget."""
    sessions = [(e["last"], s) for s, e in summary["sessions"].items() if e.get("project") == root]
    session = max(sessions)[1] if sessions else ""
    spent = spend_of(summary, root, session, git_head_branch(root), now)
    for scope, label in BUDGET_SCOPES.items():
        limit = budget.get(scope)
        against = f" of {dollars(limit)} ({spent[scope] / limit * 100:.0f} %)" if limit else " (no budget)"
        print(f"{label:<13} {dollars(spent[scope])}{against}")
    if any(budget.get(scope) for scope in BUDGET_SCOPES):
        then = "refused" if budget.get("block") else "still sent (--block refuses them)"
        print(f"Prompts get a warning from {budget.get('warn_at', BUDGET_WARN_AT):g} % of a budget; at 100 % they "
              f"are {then}.")
    else:
        print("No budget here: `traces budget set --day 20 --block` sets one for the team (--local: for you).")


@command("budget", "show spend against budgets; set or take off limits per session, day, week, branch",
         budget_options)
def cmd_budget(args):
    root = repo_root(os.getcwd())
    settings = RepoSettings(root)
    team, local = checked_budgets(settings)
    if args.action == "show":
        if any(getattr(args, scope) is not None for scope in (*BUDGET_SCOPES, "warn_at", "block")):
            raise TracesError("budgets are given with `traces budget set`")
    else:
        change_budget(args, settings)
        team, local = checked_budgets(settings)
        wired = []                              # before saving: a hooks file it cannot edit changes nothing
        for agent in AGENTS.values():           # the agents with a prompt hook of their own
            wired += agent["wire_budget"](root, bool(team or local))
        for line in settings.save() + wired:
            print(line)
    fd = summary_lock()
    try:
        summary, now = read_summary(), time.time()
        write_verdicts(summary, root, now)      # a raised budget lifts its block before the next prompt
    finally:
        os.close(fd)
    show_budgets(root, {**team, **local}, summary, now)
    return 0


###############################################################################
# traces ui: the MLflow UI
###############################################################################

def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_open_browser():
    return sys.platform == "darwin" or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def show_url(url, args):
    print(url, flush=True)
    if not args.no_browser and can_open_browser():
        import webbrowser
        webbrowser.open(url)


def stop_process_group(server):
    """Stop the server and every process it started (its process group: uvicorn's workers,
    the job runners), whatever signal stopped us: none of them may keep the port or the store.
    A second Ctrl-C meanwhile must not cut this short, so signals wait until it is done."""
    import signal
    import subprocess
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    if server.poll() is None:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(server.pid, sig)
                server.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
    # Workers left behind in the group (the main process gone first) must not keep the port.
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def serve_local_ui(uri, experiment, args):
    """Run `mlflow ui` on the local store until Ctrl-C, a `kill` or a closed terminal, then
    stop it with all its workers."""
    import signal
    import subprocess
    import urllib.request
    port = args.port or free_port()
    home = private_dir(traces_home())
    log_path = os.path.join(home, "ui.log")
    # SIGTERM and SIGHUP end us like Ctrl-C, through the finally below: Python's default would
    # end us at once, and leave the server and its job runners serving the store.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    with open(log_path, "ab") as log_file:
        # Its own process group: Ctrl-C reaches us, and we stop the server and its workers
        # together. cwd is TRACES_HOME, where MLflow may put ./mlartifacts.
        server = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=home, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            if server.poll() is not None:
                raise TracesError(f"the MLflow UI exited at start (code {server.returncode}); see {log_path}")
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise TracesError(f"the MLflow UI did not answer on {base} within 120 s; see {log_path}")
            time.sleep(0.3)
        print(f"MLflow UI for {uri} (log: {log_path}); experiment {experiment.name}:")
        show_url(f"{base}/#/experiments/{experiment.experiment_id}/traces", args)
        print("Press Ctrl-C to stop it.", flush=True)
        server.wait()
        raise TracesError(f"the MLflow UI stopped by itself (code {server.returncode}); see {log_path}")
    except KeyboardInterrupt:
        pass
    finally:
        stop_process_group(server)
    # After the stop: with the terminal gone (SIGHUP) this print fails, and nothing is left.
    print("Stopped the MLflow UI.")


def ui_options(p):
    p.add_argument("-e", "--experiment", metavar="NAME", help="another experiment (name or id)")
    p.add_argument("--no-browser", action="store_true", help="print the URL, do not open a browser")
    p.add_argument("--port", type=positive(int), help="port for the local UI (default: a free one)")


@command("ui", "open this repository's traces in the MLflow UI (starts it for the local store)", ui_options)
def cmd_ui(args):
    root = repo_root(os.getcwd())
    backend = Backend(root)
    name, experiment_id = backend.current()
    experiment = backend.experiment(args.experiment) if args.experiment else backend.experiment(name, experiment_id)
    if backend_kind(backend.uri) == "databricks":
        host = databricks_host(backend.env)
        if not host:
            raise TracesError(f"experiment {experiment.name} has id {experiment.experiment_id}; set DATABRICKS_HOST "
                              f"(or a host for the profile in ~/.databrickscfg) to get its link")
        print(f"Experiment {experiment.name} in Databricks:")
        show_url(f"{host}/ml/experiments/{experiment.experiment_id}", args)
        return 0
    if backend_kind(backend.uri) != "local":
        print(f"Experiment {experiment.name} on {backend.uri}:")
        show_url(f"{backend.uri.rstrip('/')}/#/experiments/{experiment.experiment_id}/traces", args)
        return 0
    serve_local_ui(backend.uri, experiment, args)
    return 0


###############################################################################
# The parser and main
###############################################################################

EXAMPLES = """\
Examples:
  Wire this repository for every agent on PATH, on the local store, asking nothing:
      traces init --agent all --local --yes
  Send this repository's traces to a team's MLflow server instead:
      traces init --tracking-uri https://mlflow.example.com -e acme/widgets
  Check the whole path a turn takes, with a test turn per agent:
      traces doctor
  Trace the sessions that ran before init:
      traces import
  A turn step by step (prompt, tool calls, diffs, answer); a session for a pull request:
      traces show tr-7f3a
      traces show --session 3de4 -f markdown
  The last day's turns; the last five as Markdown for an LLM:
      traces search --hours 24
      traces search -f context -l 5
  Turns whose Bash call failed, and what each tool cost in time:
      traces search --tool Bash --status error
      traces search -f tools
  Which traced turn wrote each line of a file, and each agent's share of it:
      traces blame src/app.py
      traces blame src/app.py --summary
  Tokens and dollars per model; per agent this month; per 5-hour block this week, by model:
      traces report --by model
      traces report --by agent --since 2026-12-01
      traces report --by block --since 7d --breakdown

Every command has --help. The reference: docs/commands.md in the claudetracing repository.
"""


def build_parser(only=None):
    """The command line, from COMMANDS; with `only`, the other commands are not built: building
    all of them costs a quick command (`traces search`) a fifth of its time."""
    import argparse
    parser = argparse.ArgumentParser(
        prog="traces", description="MLflow tracing for coding-agent sessions: Claude Code, Codex CLI, Gemini CLI, GitHub Copilot CLI.", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"traces {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (func, help_text, options) in COMMANDS.items():
        if only in COMMANDS and name != only:
            continue
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        if options:
            options(p)
        p.add_argument("--version", action="version", version=f"traces {__version__}")
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["hook"]:
        return cmd_hook()
    if argv == ["statusline"]:
        return cmd_statusline()       # on every screen update: no argparse
    streams = sys.stdout, sys.stderr
    # Everything a command prints, its errors included, reaches the terminal through here.
    sys.stdout, sys.stderr = (stream if stream is None else TerminalStream(stream) for stream in streams)
    try:
        return run_command(argv)
    finally:
        sys.stdout, sys.stderr = streams


def run_command(argv):
    parser = build_parser(only=argv[0] if argv[:1] and not argv[0].startswith("-") else None)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except TracesError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `traces search | head`: the reader left; say nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # noqa: BLE001 - no traceback reaches a user: it goes to the log
        import traceback
        # The short error first: `traces status` shows the log's last ERROR line.
        path = log(f"ERROR traces {args.command}: {short_error(e)}\n{traceback.format_exc()}")
        where = f"details in {path}" if path else f"no details: the log in {traces_home()} cannot be written"
        print(f"Error: {short_error(e)}; {where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
