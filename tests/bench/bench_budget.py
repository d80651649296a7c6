"""The status line and the budget hook, timed whole from outside, the way Claude Code runs them.

statusline: `traces statusline` against `python -c pass` (bytecode cached), on an empty
summary and on one at its size bound (200 sessions of 30 turns over 8 days, 100 branches), with
an empty spool, 100 waiting jobs and 1,000 (past 100 the spool is counted, not read).

budget_hook: the UserPromptSubmit hook's time as Claude Code records it (the transcript's
hook_success durationMs, written when a hook prints plain text) in interleaved `claude -p`
sessions: ours printing this project's file, on its slowest path (another session's file is
there, so it reads its input for the session id first) and without, against `echo`.

codex_budget_hook: Codex's budget hook (one per repository, in CODEX_HOME: it finds the
session's cwd in its input first), timed whole through `sh -c` with Codex's input on stdin, in a
session of its repository (printing the session's verdict) and of another repository (nothing
to print), against `echo` and Claude Code's hook printing the same file. Codex records no hook
time where a test can read it.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent.parent

import traces  # noqa: E402  (run.py put the repository first on sys.path)


def full_summary(project, now):
    """A summary at the size prune_summary keeps: 200 sessions of 30 turns over 8 days, in time
    order (the last day's 25 sessions keep each turn's cost)."""
    summary = {"projects": {}, "sessions": {}}
    step = traces.SUMMARY_SESSION_DAYS * 86400 / (traces.SUMMARY_SESSIONS * 30)
    for s in range(traces.SUMMARY_SESSIONS):
        for t in range(30):
            when = now - ((traces.SUMMARY_SESSIONS - s) * 30 - t) * step
            turn = {"id": f"session-{s:04d}:{t:036d}", "cost": 0.05, "meta": {"git_branch": f"branch-{s % 100}"},
                    "end": when}
            traces.add_spend(summary, f"session-{s:04d}", project, turn, when)
    return summary


def time_statusline(payload, runs):
    """Median wall ms of `python -c pass` and of `traces statusline` with payload on stdin, interleaved."""
    commands = {"python -c pass": [sys.executable, "-c", "pass"],
                "traces statusline": [sys.executable, "-m", "traces", "statusline"]}
    times = {name: [] for name in commands}
    data = json.dumps(payload).encode()
    for _ in range(runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, input=data, stdout=subprocess.DEVNULL, cwd=ROOT, check=True)
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def bench_statusline(runs=30):
    work = Path(tempfile.mkdtemp(prefix="traces-bench-statusline-"))
    os.environ["TRACES_HOME"] = str(work / "home")
    project = str(work / "repo")
    os.makedirs(project)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=project, check=True)
    payload = {"session_id": "session-0000", "cwd": project, "workspace": {"project_dir": project}}
    subprocess.run([sys.executable, "-m", "traces", "statusline"], input=b"{}", cwd=ROOT, capture_output=True)
    results = {}
    for label, summary, jobs in (("empty summary, empty spool", None, 0),
                                 ("full summary, empty spool", True, 0),
                                 ("full summary, 100 jobs", True, 100),
                                 ("full summary, 1,000 jobs", True, 1000)):
        fd = traces.summary_lock()
        try:
            if summary:
                traces.write_atomic(traces.summary_path(), json.dumps(full_summary(project, time.time())).encode())
        finally:
            os.close(fd)
        for _ in range(jobs - len(traces.pending_jobs())):
            traces.write_job({"hook_event_name": "Stop", "session_id": "x", "project_dir": project, "time": 0})
        got = time_statusline(payload, runs)
        base = got["python -c pass"]
        size = os.path.getsize(traces.summary_path()) if os.path.exists(traces.summary_path()) else 0
        results[label] = got["traces statusline"] / base
        print(f"  {label:<28} {got['traces statusline']:6.1f} ms  ({results[label]:.2f}x python -c pass "
              f"{base:.1f} ms; summary {size / 1000:.0f} KB)")
    shutil.rmtree(work, ignore_errors=True)
    return results


def bench_budget_hook(turns=12):
    from claude_harness import claude_bin, claude_env, run_claude, transcript_path
    from fakeapi import FakeAnthropic
    if claude_bin() is None:
        print("  skipped: Claude Code is not installed (make claude)")
        return None
    work = Path(tempfile.mkdtemp(prefix="traces-bench-budget-"))
    home = work / "home"
    # Each variant has a TRACES_HOME of its own. The verdict the hook prints is plain text, so
    # that Claude Code records the hook's time; another session's file makes the hook read its
    # input for the session id first (its slowest path).
    variants = {"budget hook, slowest": (traces.BUDGET_COMMAND, True), "budget hook, project": (traces.BUDGET_COMMAND, False),
                "echo": ("echo ok", False)}
    repos = {}
    for name, (command, other_session) in variants.items():
        repo = work / name.replace(" ", "-").replace(",", "")
        (repo / ".claude").mkdir(parents=True)
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        settings = {"hooks": {"UserPromptSubmit": [{"hooks": [{"type": "command", "command": command}]}]}}
        (repo / ".claude" / "settings.json").write_text(json.dumps(settings))
        verdicts = work / f"{repo.name}-home" / traces.BUDGET_DIR
        (verdicts / ("projects" + os.path.realpath(repo))).mkdir(parents=True)
        for day in (traces.day_keys(time.time())[0], traces.day_keys(time.time() + 86400)[0]):
            (verdicts / ("projects" + os.path.realpath(repo)) / f"{day}.json").write_text("ok\n")
            if other_session:
                (verdicts / f"another-session.{day}.json").write_text("{}")
        repos[name] = repo
    durations = {name: [] for name in repos}
    with FakeAnthropic() as api:
        for _ in range(turns):
            for name, repo in repos.items():
                env = claude_env(home, api.url, TRACES_HOME=str(work / f"{repo.name}-home"))
                code, session, _, err = run_claude(repo, "CT-SCENARIO plain: say hi", env)
                if code != 0 or not session:
                    raise SystemExit(f"claude failed: {err[-500:]}")
                for line in open(transcript_path(home, repo, session)):
                    if '"hook_success"' in line and '"UserPromptSubmit"' in line:
                        durations[name].append(json.loads(line)["attachment"]["durationMs"])
    shutil.rmtree(work, ignore_errors=True)
    print_latencies(durations)
    return durations


def print_latencies(times):
    """Each variant's p50 and p90 in ms, and its p50 next to `echo`'s."""
    base = statistics.median(times["echo"])
    for name, values in times.items():
        p50 = statistics.median(values)
        print(f"  {name:<22} p50 {p50:6.1f} ms  p90 {sorted(values)[int(len(values) * 0.9) - 1]:6.1f} ms"
              f"  n={len(values)}  ({p50 / base:.2f}x `echo`, {p50 - base:+.1f} ms)")


def bench_codex_budget_hook(runs=300):
    work = Path(tempfile.mkdtemp(prefix="traces-bench-codex-budget-"))
    repo = work / "repo"
    (repo / "src").mkdir(parents=True)
    verdicts = work / "home" / traces.BUDGET_DIR
    verdicts.mkdir(parents=True)
    day = traces.day_keys(time.time())[0]
    (verdicts / f"session-1.{day}.json").write_text('{"systemMessage": "claudetracing: a warning"}')

    def payload(cwd):       # as Codex 0.169 writes it: compact, on one line, the prompt last
        return json.dumps({"session_id": "session-1", "turn_id": "t", "transcript_path": None, "cwd": str(cwd),
                           "hook_event_name": "UserPromptSubmit", "model": "gpt-5", "permission_mode": "default",
                           "prompt": "x" * 2000}, separators=(",", ":")).encode()
    env = {**os.environ, "TRACES_HOME": str(work / "home")}
    variants = {"echo": ("echo ok", payload(repo), env),
                "claude's hook": (traces.BUDGET_COMMAND, payload(repo), {**env, "CLAUDE_PROJECT_DIR": str(repo)}),
                "codex, its repository": (traces.codex_budget_command(str(repo)), payload(repo / "src"), env),
                "codex, another": (traces.codex_budget_command(str(repo)), payload(work), env)}
    times = {name: [] for name in variants}
    for _ in range(runs):
        for name, (command, data, environ) in variants.items():
            start = time.perf_counter()
            subprocess.run(["/bin/sh", "-c", command], input=data, stdout=subprocess.DEVNULL, env=environ, check=True)
            times[name].append((time.perf_counter() - start) * 1000)
    shutil.rmtree(work, ignore_errors=True)
    print_latencies(times)
    return times
