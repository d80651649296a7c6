"""Reading Gemini CLI sessions: reading and splitting a long JSONL chat into turns against
`json.loads` of every line, dropped and kept (goal ≥ 0.8x the kept), and the turn records made from it
(pricing each model message with genai-prices included: see bench_prices for that part); the
cost of the turn that just ended, read from its checkpoint, at turn 10, 100 and 1,000 (goal:
flat); and an older single-document session-*.json of 10, 100 and 1,000 turns read whole, per
turn (goal: flat, the document is parsed once).

The sessions are the recorded three-turn session (tests/fixtures/gemini-0.61.0/resume), its
turns repeated with fresh ids.

    python tests/bench/bench_gemini.py
"""

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TESTS = BENCH.parent
sys.path[:0] = [str(TESTS.parent), str(TESTS)]

import traces  # noqa: E402

SOURCE = next((TESTS / "fixtures" / "gemini-0.61.0" / "resume").glob("session-*.jsonl"))


def turn_lines():
    """The recorded session's own lines after its header (its turns, the resumes' restatements)."""
    lines = SOURCE.read_text().splitlines()
    return lines[0], lines[1:]


def long_chat(path, turns):
    """A JSONL chat of about `turns` turns (the recorded three, repeated with fresh ids)."""
    header, body = turn_lines()
    with open(path, "w") as f:
        f.write(header + "\n")
        for copy in range(turns // 3):
            text = "\n".join(body).replace('"id":"', f'"id":"{copy}-')
            f.write(text + "\n")
    return str(path)


def older_document(path, turns):
    """The same turns as one older session-*.json document (messages read off a long chat)."""
    records, _, _ = traces.gemini_read(long_chat(Path(str(path) + ".src.jsonl"), turns))
    messages = list({r["id"]: r for _, r in records if isinstance(r.get("type"), str)}.values())
    header = json.loads(turn_lines()[0])
    Path(path).write_text(json.dumps({**header, "messages": messages}))
    return str(path)


def seconds(fn, runs=5):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    figures = {}
    with tempfile.TemporaryDirectory(prefix="traces-bench-gemini-") as folder:
        path = long_chat(Path(folder) / "session-long.jsonl", 3000)

        def plain():
            with open(path, "rb") as f:
                for line in f:
                    json.loads(line)

        def kept():             # what any reader that hands its records on does at least
            with open(path, "rb") as f:
                return [json.loads(line) for line in f]

        def split():
            traces.gemini_split(traces.gemini_read(path)[0])

        def turns():
            traces.gemini_turns(traces.gemini_read(path)[0], {"id": "s"})

        # Interleaved, the least of each: the machine is shared, and its load drifts.
        best = {plain: [], kept: [], split: []}
        for _ in range(5):
            for fn in best:
                best[fn].append(seconds(fn, 1))
        plain_s, kept_s, split_s, turns_s = min(best[plain]), min(best[kept]), min(best[split]), seconds(turns, 1)
        size = Path(path).stat().st_size / 1e6
        figures["throughput"] = round(plain_s / split_s, 2)
        figures["turn records"] = round(plain_s / turns_s, 2)
        figures["throughput against kept"] = round(kept_s / split_s, 2)
        print(f"  {size:.0f} MB JSONL: json.loads of every line {plain_s:.2f} s (kept in a list {kept_s:.2f} s), read "
              f"and split into turns {split_s:.2f} s ({plain_s / split_s:.2f}x json.loads, {kept_s / split_s:.2f}x kept), "
              f"turn records priced {turns_s:.2f} s ({plain_s / turns_s:.2f}x)")
        per_turn = {}
        for turns in (12, 102, 1002):
            chat = long_chat(Path(folder) / f"live-{turns}.jsonl", turns)
            records, _, _ = traces.gemini_read(chat)
            last = traces.gemini_split(records)[-1]["offset"]
            per_turn[turns] = statistics.median(
                seconds(lambda: traces.gemini_turns(traces.gemini_read(chat, last)[0], {"id": "s"}), 1)
                for _ in range(15))
        figures["last turn 1000/10"] = round(per_turn[1002] / per_turn[12], 2)
        print(f"  the turn that just ended, from its checkpoint: turn 12 {per_turn[12] * 1000:.2f} ms, turn 102 "
              f"{per_turn[102] * 1000:.2f} ms, turn 1002 {per_turn[1002] * 1000:.2f} ms  → "
              f"{figures['last turn 1000/10']:.2f}x")
        older = {}
        for turns in (12, 102, 1002):
            document = older_document(Path(folder) / f"session-{turns}.json", turns)
            older[turns] = seconds(lambda: traces.gemini_turns(traces.gemini_read(document)[0], {"id": "s"}), 3) / turns
        figures["older per turn 1000/10"] = round(older[1002] / older[12], 2)
        print(f"  older session-*.json read whole, per turn: 12 turns {older[12] * 1e6:.0f} µs, 102 turns "
              f"{older[102] * 1e6:.0f} µs, 1002 turns {older[1002] * 1e6:.0f} µs  → {figures['older per turn 1000/10']:.2f}x")
    return figures


if __name__ == "__main__":
    main()
