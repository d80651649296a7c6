"""Redaction cost counted in CPU instructions under valgrind, against json.loads: figures that a
loaded machine does not move (bench_redact's times do, by a third). Each figure is the
difference between two runs of this script under cachegrind, one that redacts (or parses) the
text a second time and one that stops after the first pass, which compiles every rule. Now with
ahocorasick_rs's pre-filter, now without it (the vendored copy's path) and BEFORE, the release
before the pre-filter.

    python tests/bench/count_redact.py [megabytes]     # needs valgrind; about 5 minutes
"""
import json
import os
import re
import subprocess
import sys

from bench_redact import DENSITIES, baseline_traces, dense_lines, recorded_lines, traces, transcript_lines

# The release before the pre-filter (0.12.0), counted in the same run.
BEFORE = "e3c66a8"
SUBJECTS = ("json.loads", "now", "without ahocorasick_rs", BEFORE)
TEXTS = ("recorded", "recorded parsed", "synthetic mix", *DENSITIES)


def text(name, megabytes):
    """The lines of the text `name`, and whether they are redacted parsed (redact_value)."""
    if name.startswith("recorded"):
        return recorded_lines()[0], name.endswith("parsed")
    if name == "synthetic mix":
        return transcript_lines(megabytes)[0], False
    return dense_lines(megabytes, density=DENSITIES[name])[0], True


def run(subject, name, megabytes, twice):
    """Parse or redact the text, then again if `twice` (the run valgrind counts)."""
    lines, parsed = text(name, megabytes)
    module = baseline_traces(BEFORE) if subject == BEFORE else traces
    if subject == "without ahocorasick_rs":
        module._PREFILTER[:] = [None]
    items = [json.loads(line) for line in lines] if parsed else lines
    work = {"json.loads": (json.loads, lines)}.get(subject, (module.redact_value if parsed else module.redact_text, items))
    for _ in range(1 + twice):
        getattr(module, "_REDACTED", {}).clear()
        for item in work[1]:
            work[0](item)


def instructions(subject, name, megabytes, twice):
    result = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                             sys.executable, __file__, "--run", subject, name, str(megabytes), str(int(twice))],
                            capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONHASHSEED": "0"})  # the same set orders every run
    return int(re.search(r"I\s+refs:\s+([\d,]+)", result.stderr).group(1).replace(",", ""))


def main(megabytes=0.3):
    for name in TEXTS:
        counts = {subject: instructions(subject, name, megabytes, True) - instructions(subject, name, megabytes, False)
                  for subject in SUBJECTS}
        print(f"  {name}: redaction/json.loads in instructions = "
              + ", ".join(f"{subject} {counts[subject] / counts['json.loads']:.2f}x" for subject in SUBJECTS[1:]),
              flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--run"]:
        run(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5] == "1")
    else:
        main(float(sys.argv[1]) if len(sys.argv) > 1 else 0.3)
