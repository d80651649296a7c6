"""How much redaction costs, per MB of transcript, next to json.loads.

Every transcript line is parsed with json.loads anyway, so that is the
baseline: redaction should stay within a small multiple of it. The text is
shaped like Claude Code transcript lines: prose, commands, and tool results
holding code (standard-library modules, and the redaction corpus's lookalike
files, which are dense in "token" and "password") or, one line in fifty, a
corpus file with planted secrets. Next to it, the same ratio on real recorded
transcripts: every line of tests/fixtures/**/*.jsonl (Claude Code 2.1.330
recordings and the public transcripts), redact_text's on those lines and redact_value's on
them parsed (which repeat long strings, which it remembers), and redact_value's on secret-dense
transcripts (dense_lines) at 1, 2 and 5 MB, which shows how the cost grows, in CPU
time (the machines are shared), next to redact_value without ahocorasick_rs's pre-filter (the
vendored copy's path) and 0.10.0's in the same run.

    python tests/bench/bench_redact.py [megabytes]
"""
import argparse
import importlib.util
import json
import pathlib
import random
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
if sys.path[0] != str(ROOT):
    sys.path.insert(0, str(ROOT))  # this checkout's traces.py, not an installed one

import traces  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = FIXTURES / "redact_corpus"
WORST_CASE_UNITS = ["password=a", "token:x/", "password='a", '"a://b:c"', "-----BEGIN PRIVATE KEY-----",
                    "eyJaaaaaaaaaaaa.", "Bearer ", "--password ", "x@", "a", "sk-", "X-API-Key: "]


def transcript_lines(megabytes, seed=1):
    """About `megabytes` MB of JSON lines: prose, tool calls and tool results."""
    rng = random.Random(seed)
    modules = (argparse, json.decoder, pathlib, random)
    code = [pathlib.Path(module.__file__).read_text() for module in modules]
    code += [path.read_text() for path in sorted((CORPUS / "clean").iterdir())]
    secrets = [path.read_text() for path in sorted((CORPUS / "secrets").iterdir())]
    prose = ("I'll look at how the session token is refreshed, then run the tests. "
             "The failure comes from the retry loop counting max_tokens twice. ")
    lines, size = [], 0
    while size < megabytes * 1_000_000:
        if rng.random() < 0.02:
            body = {"type": "tool_result", "content": rng.choice(secrets)}
        else:
            source = rng.choice(code)
            start = rng.randrange(len(source))
            body = rng.choice([
                {"type": "text", "text": prose * rng.randint(1, 4)},
                {"type": "tool_use", "name": "Bash",
                 "input": {"command": "python -m pytest -q tests/test_auth.py"}},
                {"type": "tool_result", "content": source[start:start + rng.randrange(200, 4000)]},
            ])
        line = json.dumps({
            "type": "user" if body["type"] == "tool_result" else "assistant",
            "uuid": f"{rng.getrandbits(128):032x}", "timestamp": "2026-11-14T10:00:00.000Z",
            "message": {"role": "assistant", "content": [body]},
        })
        lines.append(line)
        size += len(line) + 1
    return lines, size


# Secret-dense transcripts: (the share of lines that are corpus secrets, that are corpus
# look-alikes). "dense": a session that edits auth code and .env files; "issue 20": the
# density at which issue 20 measured 0.10.0 at 10x json.loads.
DENSITIES = {"dense": (0.05, 0.25), "issue 20": (0.005, 0.05)}
# The release before the windowed redaction, timed in the same run as a baseline.
BASELINE = "c7f2416"


def dense_lines(megabytes, seed=2, density=DENSITIES["dense"]):
    """About `megabytes` MB of tool results as secret-dense as a session that edits auth code
    and .env files: by default a line in four is a corpus look-alike (`token = self.token`,
    `max_tokens=4096`, `--password-file`, ...), one in twenty a corpus secret, the rest code."""
    secret_share, lookalike_share = density
    rng = random.Random(seed)
    code = [line for module in (argparse, json.decoder, pathlib, random)
            for line in pathlib.Path(module.__file__).read_text().splitlines() if line.strip()]
    lookalikes = (CORPUS / "lookalikes.txt").read_text().splitlines()
    secrets = [line for path in sorted((CORPUS / "secrets").iterdir()) for line in path.read_text().splitlines()]
    lines, size = [], 0
    while size < megabytes * 1_000_000:
        body = []
        for _ in range(rng.randint(5, 60)):
            roll = rng.random()
            body.append(rng.choice(secrets if roll < secret_share
                                   else lookalikes if roll < secret_share + lookalike_share else code))
        line = json.dumps({
            "type": "user", "uuid": f"{rng.getrandbits(128):032x}", "timestamp": "2026-11-14T10:00:00.000Z",
            "message": {"role": "user", "content": [{"type": "tool_result", "content": "\n".join(body)}]},
        })
        lines.append(line)
        size += len(line) + 1
    return lines, size


def recorded_lines():
    """Every line of the recorded transcripts among the fixtures, and their size."""
    lines = [line for path in sorted(FIXTURES.rglob("*.jsonl"))
             for line in path.read_text().splitlines() if line.strip()]
    return lines, sum(len(line) + 1 for line in lines)


def best_of(runs, function, lines, clock=time.perf_counter, prefilter=True):
    """The best time of `function` over `lines`; without ahocorasick_rs's pre-filter (the
    vendored copy's path) unless `prefilter`."""
    timings, saved = [], traces._PREFILTER[:]
    traces._PREFILTER[:] = [traces._prefilter()] if prefilter else [None]  # built once, untimed
    try:
        for _ in range(runs):
            traces._REDACTED.clear()  # redact_value remembers the strings it redacted: start cold
            start = clock()
            for line in lines:
                function(line)
            timings.append(clock() - start)
    finally:
        traces._PREFILTER[:] = saved
    return min(timings)


def baseline_traces(commit=BASELINE):
    """traces.py as of `commit`, loaded from git as its own module."""
    source = subprocess.run(["git", "show", f"{commit}:traces.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader("traces_baseline", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"{commit}:traces.py", "exec"), module.__dict__)
    return module


WITHOUT = "without ahocorasick_rs"


def dense_ratios(baseline):
    """redact_value / json.loads in CPU time on each DENSITIES transcript at 1, 2 and 5 MB,
    now, now without the pre-filter and at BASELINE, the four timed in turn (best of 3 rounds) so that load hits them alike."""
    ratios = {}
    for name, density in DENSITIES.items():
        for size in (1, 2, 5):
            lines, _ = dense_lines(size, density=density)
            parsed = [json.loads(line) for line in lines]
            best = {"loads": [], "now": [], WITHOUT: [], BASELINE: []}
            for _ in range(3):
                best["loads"].append(best_of(1, json.loads, lines, time.process_time))
                best["now"].append(best_of(1, traces.redact_value, parsed, time.process_time))
                best[WITHOUT].append(best_of(1, traces.redact_value, parsed, time.process_time, prefilter=False))
                best[BASELINE].append(best_of(1, baseline.redact_value, parsed, time.process_time))
            loads = min(best["loads"])
            ratios[name, size] = {key: min(best[key]) / loads for key in ("now", WITHOUT, BASELINE)}
    return ratios


GOAL = 5.0


def _verdict(ratio):
    return f"{ratio:.1f}x (goal ≤ {GOAL:g}x)" + ("" if ratio <= GOAL else "  NOT MET")


def bench_redact(megabytes=4):
    """Time redact_text and json.loads line by line, best of 5; ms per MB. The goal: ratio
    (redact_text time / json.loads time) at most GOAL, on the synthetic mix and on the
    recorded transcripts. Prints the figures, returns them."""
    baseline = baseline_traces()
    lines, size = transcript_lines(megabytes)
    parsed = [json.loads(line) for line in lines]
    mb = size / 1_000_000
    loads = best_of(5, json.loads, lines)
    redact = best_of(5, traces.redact_text, lines)
    value = best_of(5, traces.redact_value, parsed)
    recorded, recorded_size = recorded_lines()
    recorded_mb = recorded_size / 1_000_000
    recorded_loads = best_of(5, json.loads, recorded)
    recorded_redact = best_of(5, traces.redact_text, recorded)
    recorded_parsed = [json.loads(line) for line in recorded]
    recorded_value = best_of(5, traces.redact_value, recorded_parsed)
    recorded_value_without = best_of(5, traces.redact_value, recorded_parsed, prefilter=False)
    recorded_value_baseline = best_of(5, baseline.redact_value, recorded_parsed)
    dense = dense_ratios(baseline)
    # Lines built to make a rule rescan the rest of the line at every occurrence: the time
    # for 20 KB and 200 KB of each (linear: 10x; quadratic: 100x).
    worst = {}
    for unit in WORST_CASE_UNITS:
        small, large = (best_of(3, traces.redact_text, [unit * (size // len(unit))]) for size in (20_000, 200_000))
        worst[unit] = f"{small * 1000:.1f} ms / {large * 1000:.1f} ms ({large / small:.1f}x)"
    print(f"  json.loads    {loads * 1000 / mb:7.2f} ms/MB")
    print(f"  redact_text   {redact * 1000 / mb:7.2f} ms/MB")
    print(f"  redact_value  {value * 1000 / mb:7.2f} ms/MB (parsed lines)")
    print(f"  synthetic mix:        redact/json.loads = {_verdict(redact / loads)}")
    print(f"  recorded transcripts: redact/json.loads = {_verdict(recorded_redact / recorded_loads)}")
    print(f"    ({len(recorded)} lines, {recorded_mb:.1f} MB: json.loads {recorded_loads * 1000 / recorded_mb:.2f}"
          f" ms/MB, redact_text {recorded_redact * 1000 / recorded_mb:.2f} ms/MB; redact_value of the parsed"
          f" lines, which repeat strings: {recorded_value / recorded_loads:.1f}x, {WITHOUT}:"
          f" {recorded_value_without / recorded_loads:.1f}x, {BASELINE}:"
          f" {recorded_value_baseline / recorded_loads:.1f}x)")
    for name in DENSITIES:
        now = [ratio["now"] for (density, _), ratio in dense.items() if density == name]
        print(f"  secret-dense transcript ({name}): redact_value/json.loads in CPU time = "
              + ", ".join(f"{ratio['now']:.1f}x ({WITHOUT}: {ratio[WITHOUT]:.1f}x, {BASELINE}:"
                          f" {ratio[BASELINE]:.1f}x) at {size} MB"
                          for (density, size), ratio in dense.items() if density == name)
              + f" (goal ≤ {GOAL:g}x{'' if max(now) <= GOAL else ', NOT MET'})")
    print("  adversarial lines, 20 KB vs 200 KB (linear: 10x):")
    for unit, timing in worst.items():
        print(f"    {unit!r:32} {timing}")
    return {
        "megabytes": round(mb, 2),
        "lines": len(lines),
        "json_loads_ms_per_mb": round(loads * 1000 / mb, 2),
        "redact_text_ms_per_mb": round(redact * 1000 / mb, 2),
        "redact_value_ms_per_mb": round(value * 1000 / mb, 2),
        "ratio": round(redact / loads, 2),
        "recorded_megabytes": round(recorded_mb, 2),
        "recorded_lines": len(recorded),
        "recorded_json_loads_ms_per_mb": round(recorded_loads * 1000 / recorded_mb, 2),
        "recorded_redact_text_ms_per_mb": round(recorded_redact * 1000 / recorded_mb, 2),
        "recorded_ratio": round(recorded_redact / recorded_loads, 2),
        "recorded_value_ratio": round(recorded_value / recorded_loads, 2),
        "recorded_value_ratio_without_prefilter": round(recorded_value_without / recorded_loads, 2),
        "recorded_value_ratio_baseline": round(recorded_value_baseline / recorded_loads, 2),
        "dense_value_ratio_by_mb": {f"{name} {size} MB": {key: round(value, 2) for key, value in ratio.items()}
                                    for (name, size), ratio in dense.items()},
        "worst_case_20kb_vs_200kb": worst,
    }


if __name__ == "__main__":
    bench_redact(float(sys.argv[1]) if len(sys.argv) > 1 else 4)
