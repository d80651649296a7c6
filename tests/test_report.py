"""traces report: every --by, --since/--until, --breakdown, against hand-worked tables, the
traces' tags read through mlflow's client, and ccusage on the same transcripts.

Five recorded Claude Code 2.1.330 sessions are written as Claude Code keeps them
(CLAUDE_CONFIG_DIR/projects/<dir>/<session>.jsonl, subagents beside them), at times picked to
fall on the edges (a Sunday and a Monday, the last day of a month, a turn running across
midnight UTC, turns 4 h 59 min and 5 h after a block's start), then `traces import`ed into a
local store. Each session is one turn.
"""

import json
import os
import shutil
import subprocess
import time
from datetime import date, datetime, timezone

import pytest
import trace_store
from helpers import ROOT

import traces

HAIKU = "claude-haiku-4-5-20251001"      # a model both price: the one whose cost can be compared
# (session, recording, when it ends (UTC), its model instead of the recording's claude-opus-5-5)
PLAN = [
    ("11111111-0000-4000-8000-000000000001", "main", "2026-11-29T21:00:10.000Z", None),      # Sunday
    ("22222222-0000-4000-8000-000000000002", "midturn", "2026-11-30T01:59:50.000Z", None),   # block start + 4:59
    ("33333333-0000-4000-8000-000000000003", "secret", "2026-11-30T02:00:30.000Z", HAIKU),   # block start + 5:00
    ("44444444-0000-4000-8000-000000000004", "main", "2026-12-01T00:00:00.500Z", None),      # across midnight UTC
    ("55555555-0000-4000-8000-000000000005", "midturn", "2026-12-07T10:00:30.000Z", None),
]
S1, S2, S3, S4, S5 = (p[0] for p in PLAN)
# The rows each zone must show, worked out by hand: {zone: {by: {key: sessions}}}. Asia/Kolkata
# is 5:30 off UTC, so its blocks (on UTC's hours, as ccusage's) start at :30.
EXPECTED = {
    "UTC": {
        "day": {"2026-11-29": {S1}, "2026-11-30": {S2, S3, S4}, "2026-12-07": {S5}},
        "week": {"2026-W48": {S1}, "2026-W49": {S2, S3, S4}, "2026-W50": {S5}},
        "month": {"2026-11": {S1, S2, S3, S4}, "2026-12": {S5}},
        "block": {"2026-11-29 21:00": {S1, S2}, "2026-11-30 02:00": {S3}, "2026-11-30 23:00": {S4},
                  "2026-12-07 10:00": {S5}},
    },
    "Asia/Kolkata": {
        "day": {"2026-11-30": {S1, S2, S3}, "2026-12-01": {S4}, "2026-12-07": {S5}},
        "week": {"2026-W49": {S1, S2, S3, S4}, "2026-W50": {S5}},
        "month": {"2026-11": {S1, S2, S3}, "2026-12": {S4, S5}},
        "block": {"2026-11-30 02:30": {S1, S2}, "2026-11-30 07:30": {S3}, "2026-12-01 04:30": {S4},
                  "2026-12-07 15:30": {S5}},
    },
    "America/Los_Angeles": {
        "day": {"2026-11-29": {S1, S2, S3}, "2026-11-30": {S4}, "2026-12-07": {S5}},
        "week": {"2026-W48": {S1, S2, S3}, "2026-W49": {S4}, "2026-W50": {S5}},
        "month": {"2026-11": {S1, S2, S3, S4}, "2026-12": {S5}},
        "block": {"2026-11-29 13:00": {S1, S2}, "2026-11-29 18:00": {S3}, "2026-11-30 15:00": {S4},
                  "2026-12-07 02:00": {S5}},
    },
}
TOKENS = ("input", "output", "cache_read", "cache_creation", "total")
PERIODS = ["day", "week", "month", "block"]
ALL_BY = PERIODS + ["session", "model", "branch", "user", "agent"]


def utc(stamp):
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def write_session(project, repo, session, recording, end, model, n):
    """A recorded session as Claude Code would have written it at another time: its own message
    and request ids (else both tools take it for a copy of the other variant of the recording),
    compact JSON lines, as Claude Code writes them (ccusage 20 skips lines with spaces)."""
    [source] = [p for p in (trace_store.RECORDED / recording).glob("*.jsonl") if trace_store.SESSION_FILE.fullmatch(p.name)]
    path = trace_store.write_variant(source, project, session, utc(end), "main", repo, None)
    for item in [path, *path.with_suffix("").rglob("*.jsonl")]:
        text = item.read_text().replace("msg_ct_", f"msg_ct_{n}_").replace("req_ct_", f"req_ct_{n}_")
        if model:
            text = text.replace("claude-opus-5-5", model)
        item.write_text("".join(json.dumps(json.loads(line), separators=(",", ":"), ensure_ascii=False) + "\n"
                                for line in text.splitlines() if line.strip()))
        os.utime(item, (utc(end), utc(end)))        # long quiet: import takes its turns as over


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """{config: CLAUDE_CONFIG_DIR, uri, infos: {session: [TraceInfo]}} of the transcripts and
    the store `traces import` made of them."""
    if not trace_store.recorded_sessions():
        pytest.skip(f"no recorded Claude Code transcripts in {trace_store.RECORDED}")
    base = tmp_path_factory.mktemp("report")
    config = base / "claude"
    repo = trace_store.git_repo(base / "repo")
    project = config / "projects" / str(repo).replace("/", "-")
    for n, (session, recording, end, model) in enumerate(PLAN):
        write_session(project, repo, session, recording, end, model, n)
    (repo / ".claude").mkdir()
    (repo / ".claude" / "traces.json").write_text(json.dumps({"experiment": "acme/widgets"}))
    with pytest.MonkeyPatch.context() as env:
        for key in [k for k in os.environ if k.startswith(("MLFLOW_", "CLAUDETRACING_", "CLAUDE_"))]:
            env.delenv(key)
        env.setenv("HOME", str(base / "home"))
        env.setenv("TRACES_HOME", str(base / "traces-home"))
        env.chdir(repo)
        assert traces.main(["import", str(project)]) == 0
        uri = traces.local_store_uri()
    import mlflow
    mlflow.set_tracking_uri(None)
    traces.ACTIVE.clear()
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("acme/widgets").experiment_id
    infos = {}
    for trace in client.search_traces(locations=[experiment], max_results=1000, include_spans=False):
        infos.setdefault(trace.info.trace_metadata[traces.META_SESSION], []).append(trace.info)
    assert sorted(infos) == sorted(p[0] for p in PLAN) and all(len(v) == 1 for v in infos.values()), infos
    return {"config": config, "uri": uri, "infos": infos, "base": base}


@pytest.fixture
def reader(recorded, repo):
    (repo / ".claude").mkdir()
    (repo / ".claude" / "traces.json").write_text(json.dumps({"tracking_uri": recorded["uri"], "experiment": "acme/widgets"}))
    return recorded


@pytest.fixture
def zone():
    """Set the local time zone for the rest of the test (TZ, as a user's shell would)."""
    saved = os.environ.get("TZ")

    def use(name):
        os.environ["TZ"] = name
        time.tzset()
    yield use
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


def report(capsys, *argv):
    assert traces.main(["report", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def sums(infos):
    """tokens, cost of these traces, from their tags as mlflow's client reads them."""
    tokens = {k: sum(int(i.tags[f"tokens.{k}"]) for i in infos) for k in TOKENS}
    return tokens, sum(float(i.tags["cost.usd"]) for i in infos)


def of(recorded, sessions):
    return [info for s in sessions for info in recorded["infos"][s]]


# --- periods: hand-worked tables in three zones -------------------------------------------------

@pytest.mark.parametrize("name", list(EXPECTED))
@pytest.mark.parametrize("by", PERIODS)
def test_periods_in_local_time(reader, capsys, zone, name, by):
    zone(name)
    rows = report(capsys, "--by", by)["rows"]
    expected = EXPECTED[name][by]
    assert [r["key"] for r in rows] == list(expected)               # in time order
    for row in rows:
        tokens, cost = sums(of(reader, expected[row["key"]]))
        assert (row["turns"], row["tokens"]) == (len(expected[row["key"]]), tokens), row["key"]
        assert row["cost_usd"] == pytest.approx(cost, abs=1e-6)


def test_the_table_shows_blocks_by_their_local_start(reader, capsys, zone):
    zone("Asia/Kolkata")
    assert traces.main(["report", "--by", "block"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["BLOCK", "TURNS"]
    assert [line[:16] for line in lines[1:-1]] == list(EXPECTED["Asia/Kolkata"]["block"])


# --- totals equal the tags, whatever the rows ---------------------------------------------------

@pytest.mark.parametrize("by", ALL_BY)
def test_totals_equal_the_sum_of_the_traces_tags(reader, capsys, zone, by):
    zone("UTC")
    found = report(capsys, "--by", by)
    infos = of(reader, reader["infos"])
    tokens, cost = sums(infos)
    assert found["total"]["turns"] == len(infos) and found["total"]["tokens"] == tokens
    assert found["total"]["cost_usd"] == pytest.approx(cost, abs=1e-6)
    for kind in TOKENS:
        assert sum(r["tokens"][kind] for r in found["rows"]) == tokens[kind]
    assert sum(r["turns"] for r in found["rows"]) == len(infos)
    assert sum(r["cost_usd"] for r in found["rows"]) == pytest.approx(cost, abs=1e-5)
    if by not in PERIODS:                                           # the others: costliest first
        assert [r["cost_usd"] for r in found["rows"]] == sorted((r["cost_usd"] for r in found["rows"]), reverse=True)


# --- --breakdown ------------------------------------------------------------------------------

@pytest.mark.parametrize("by", ALL_BY)
def test_breakdown_sums_to_each_row_and_changes_no_row(reader, capsys, zone, by):
    zone("UTC")
    plain = report(capsys, "--by", by)
    broken = report(capsys, "--by", by, "--breakdown")
    assert [{k: v for k, v in r.items() if k != "models"} for r in broken["rows"]] == plain["rows"]
    assert broken["total"] == plain["total"]
    for row in broken["rows"]:
        models = row["models"]
        assert models and sum(m["turns"] for m in models) == row["turns"]
        for kind in TOKENS:
            assert sum(m["tokens"][kind] for m in models) == row["tokens"][kind]
        assert sum(m["cost_usd"] for m in models) == pytest.approx(row["cost_usd"], abs=1e-5)


def test_breakdown_splits_a_day_by_model(reader, capsys, zone):
    zone("UTC")
    [day] = [r for r in report(capsys, "--by", "day", "--breakdown")["rows"] if r["key"] == "2026-11-30"]
    models = {m["model"]: m for m in day["models"]}
    assert set(models) == {"claude-opus-5-5", HAIKU}
    assert (models[HAIKU]["turns"], models[HAIKU]["tokens"]) == (1, sums(of(reader, [S3]))[0])
    assert models["claude-opus-5-5"]["tokens"] == sums(of(reader, [S2, S4]))[0]
    assert traces.main(["report", "--by", "day", "--breakdown"]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(n for n, line in enumerate(lines) if line.startswith("2026-11-30"))
    assert {lines[at + 1].split()[0], lines[at + 2].split()[0]} == {"claude-opus-5-5", HAIKU}
    assert lines[at + 1].startswith("  ") and lines[at + 3].startswith("2026-12-07")


# --- --since and --until ----------------------------------------------------------------------

def turns_of(found, recorded):
    """The sessions a report took in, read off its session rows (each session is one turn)."""
    return {r["key"] for r in found["rows"]}


@pytest.mark.parametrize("name, argv, sessions", [
    ("UTC", ["--since", "2026-11-30", "--until", "2026-11-30"], {S2, S3, S4}),   # a date: the whole day
    ("UTC", ["--until", "2026-11-29"], {S1}),
    ("UTC", ["--since", "2026-11-30T02:00Z"], {S3, S4, S5}),
    ("UTC", ["--until", "2026-11-30T02:00Z"], {S1, S2}),                             # before that time
    ("UTC", ["--since", "2026-12-01"], {S5}),
    ("Asia/Kolkata", ["--since", "2026-12-01", "--until", "2026-12-01"], {S4}),      # local dates
    ("America/Los_Angeles", ["--until", "2026-11-29"], {S1, S2, S3}),
])
def test_since_and_until(reader, capsys, zone, name, argv, sessions):
    zone(name)
    found = report(capsys, "--by", "session", *argv)
    assert turns_of(found, reader) == sessions
    assert found["total"]["tokens"] == sums(of(reader, sessions))[0]


def test_since_takes_a_turn_at_that_very_time_and_until_does_not(reader, capsys, zone):
    zone("UTC")
    [info] = reader["infos"][S3]
    at = datetime.fromtimestamp(info.request_time / 1000, timezone.utc).isoformat(timespec="milliseconds")
    assert S3 in turns_of(report(capsys, "--by", "session", "--since", at), reader)
    assert S3 not in turns_of(report(capsys, "--by", "session", "--until", at), reader)


def test_durations_count_back_from_now(reader, capsys):
    """--since/--until 12h, 7d, 4w: now minus that long. The sessions are weeks or years old
    when this runs, so each count is worked out from the clock to cut between two sessions."""
    start = {s: infos[0].request_time / 1000 for s, infos in reader["infos"].items()}
    days = int((time.time() - start[S5]) // 86400) + 1             # a cut less than a day before S5
    assert turns_of(report(capsys, "--by", "session", "--since", f"{days}d"), reader) == {S5}
    assert turns_of(report(capsys, "--by", "session", "--until", f"{days}d"), reader) == {S1, S2, S3, S4}
    hours = int((time.time() - start[S4]) // 3600) + 1             # less than an hour before S4
    assert turns_of(report(capsys, "--by", "session", "--since", f"{hours}h"), reader) == {S4, S5}
    weeks = int((time.time() - start[S1]) // (7 * 86400)) + 1      # less than a week before S1
    assert turns_of(report(capsys, "--by", "session", "--since", f"{weeks}w"), reader) == set(reader["infos"])
    assert traces.main(["search", "--since", f"{days}d", "-l", "0"]) == 0     # search takes them too
    shown = [word for word in capsys.readouterr().out.split() if word.startswith("tr-")]
    assert shown == [reader["infos"][S5][0].trace_id]


def test_bad_times_are_refused(reader, capsys):
    for bad in ("tomorrow", "7", "7y", "-3d"):
        with pytest.raises(SystemExit) as exit_:
            traces.main(["report", f"--until={bad}"])
        assert exit_.value.code == 2 and "is not a date" in capsys.readouterr().err
    assert traces.main(["report", "--since", "2026-12-02", "--until", "2026-12-01"]) == 1
    assert "Error: --since (from 2026-12-02 00:00) is not before --until (before 2026-12-02 00:00)" in capsys.readouterr().err


# --- against ccusage ----------------------------------------------------------------------------

CCUSAGE = ROOT / ".cache" / "ccusage" / "node_modules" / ".bin" / "ccusage"
CC_TOKENS = {"input": "inputTokens", "output": "outputTokens", "cache_read": "cacheReadTokens",
             "cache_creation": "cacheCreationTokens", "total": "totalTokens"}


@pytest.fixture(scope="module")
def ccusage_bin():
    """The pinned ccusage (make ccusage installs it, and so does this when it is missing)."""
    if not shutil.which("npm"):
        pytest.skip("npm is not installed: no ccusage to compare with")
    if not CCUSAGE.exists():
        subprocess.run(["make", "ccusage"], cwd=ROOT, check=True, capture_output=True)
    return CCUSAGE


def ccusage(binary, recorded, zone, *argv):
    """ccusage's JSON for the same transcripts; --offline: its embedded prices, no network."""
    env = {"PATH": os.environ["PATH"], "HOME": str(recorded["base"] / "home"), "TZ": zone,
           "CLAUDE_CONFIG_DIR": str(recorded["config"]), "NO_COLOR": "1"}
    done = subprocess.run([str(binary), "claude", *argv, "--json", "--offline"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def transcript_entries(recorded):
    """(session, seconds, tokens) of every model response in the transcripts, once per message
    and request id as Claude Code repeats a response's usage on each of its content lines."""
    seen, entries = set(), []
    for path in sorted(recorded["config"].rglob("*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            message = record.get("message") if isinstance(record.get("message"), dict) else {}
            usage = message.get("usage")
            if record.get("type") != "assistant" or not isinstance(usage, dict):
                continue
            if (message.get("id"), record.get("requestId")) in seen:
                continue
            seen.add((message.get("id"), record.get("requestId")))
            tokens = {"input": usage.get("input_tokens", 0), "output": usage.get("output_tokens", 0),
                      "cache_read": usage.get("cache_read_input_tokens", 0),
                      "cache_creation": usage.get("cache_creation_input_tokens", 0)}
            tokens["total"] = sum(tokens.values())
            entries.append((record["sessionId"], utc(record["timestamp"]), tokens))
    return entries


def moved(recorded, period):
    """{period: tokens} that ccusage counts in another period than ours: it puts each response
    in the period of its own time, a report each turn (all its responses) in its start's."""
    shift = {}
    for session, when, tokens in transcript_entries(recorded):
        ours, theirs = period(recorded["infos"][session][0].request_time / 1000), period(when)
        if ours != theirs:
            for key, sign in ((ours, -1), (theirs, 1)):
                row = shift.setdefault(key, dict.fromkeys(TOKENS, 0))
                for kind in TOKENS:
                    row[kind] += sign * tokens[kind]
    return shift


def local_day(seconds):
    return time.strftime("%Y-%m-%d", time.localtime(seconds))


def local_month(seconds):
    return time.strftime("%Y-%m", time.localtime(seconds))


def iso_week(text):
    year, week, _ = date.fromisoformat(text).isocalendar()
    return f"{year}-W{week:02d}"


def compare(ours, theirs, shift):
    """ours {key: tokens} + shift == theirs {key: tokens}, key by key."""
    for key in sorted(set(ours) | set(theirs) | set(shift)):
        expected = {k: ours.get(key, dict.fromkeys(TOKENS, 0))[k] + shift.get(key, {}).get(k, 0) for k in TOKENS}
        assert theirs.get(key, dict.fromkeys(TOKENS, 0)) == expected, key


@pytest.mark.parametrize("name", ["UTC", "Asia/Kolkata"])
def test_report_against_ccusage(reader, capsys, zone, ccusage_bin, name):
    """`traces report` and ccusage 20.0.24 (`ccusage claude ... --json --offline`) on the same
    transcripts. Tokens agree session by session and block by block. They differ where:

    - a turn runs across midnight (S4 in UTC: it starts at 23:59:59 and its responses go on
      after 00:00): ccusage counts each response on the day of its own time, a report each
      turn on the day it started (its tags are the turn's, not the response's). The tokens
      so moved are asserted exactly (read off the transcript); in Asia/Kolkata nothing moves.
      The same holds for months and weeks, and for a block that a turn runs past the end of.
    - cost: ccusage's embedded catalog has no price for claude-opus-5-5, so it counts $0 for
      it (`missingPricing`); ours come from Claude Code 2.1.330's own catalog. For Haiku 4.5,
      which both price, the dollars agree (1-hour cache writes at 2x input in both).
    - weeks: ccusage starts them on Sunday by default; `--start-of-week monday` gives ISO weeks.
    Both count a response once per message and request id (Claude Code writes one line per
    content block, each with the response's usage), and subagents' responses with their session.
    """
    zone(name)
    for by, command, key, period in (("day", ["daily"], lambda r: r["date"], local_day),
                                     ("month", ["monthly"], lambda r: r["month"], local_month),
                                     ("week", ["weekly", "--start-of-week", "monday"], lambda r: iso_week(r["week"]), None)):
        ours = {r["key"]: r["tokens"] for r in report(capsys, "--by", by)["rows"]}
        found = ccusage(ccusage_bin, reader, name, *command)
        theirs = {key(r): {k: r[v] for k, v in CC_TOKENS.items()} for r in found[command[0]]}
        shift = moved(reader, period) if period else {}
        compare(ours, theirs, shift)
        if by == "day":
            assert bool(shift) == (name == "UTC")           # S4 crosses midnight in UTC only
    sessions = {r["key"]: r for r in report(capsys, "--by", "session")["rows"]}
    for row in ccusage(ccusage_bin, reader, name, "session")["sessions"]:
        ours = sessions[row["sessionId"]]
        assert ours["tokens"] == {k: row[v] for k, v in CC_TOKENS.items()}, row["sessionId"]
        if row["modelsUsed"] == [HAIKU]:
            assert row["totalCost"] == pytest.approx(ours["cost_usd"], abs=1e-6)
        else:
            assert row["totalCost"] == 0 and ours["cost_usd"] > 0
            assert all(m.get("missingPricing") for m in row["modelBreakdowns"])
    blocks = {r["key"]: r["tokens"] for r in report(capsys, "--by", "block")["rows"]}
    theirs = {time.strftime("%Y-%m-%d %H:%M", time.localtime(utc(b["startTime"]))):
              {"input": b["tokenCounts"]["inputTokens"], "output": b["tokenCounts"]["outputTokens"],
               "cache_read": b["tokenCounts"]["cacheReadInputTokens"],
               "cache_creation": b["tokenCounts"]["cacheCreationInputTokens"], "total": b["totalTokens"]}
              for b in ccusage(ccusage_bin, reader, name, "blocks")["blocks"] if not b["isGap"]}
    assert blocks == theirs and list(blocks) == list(EXPECTED[name]["block"])


def test_a_forked_session_is_counted_once_by_both(repo, tmp_path, zone, ccusage_bin, capsys):
    """`claude --resume S --fork-session` starts the new session's file with a copy of S's lines:
    the same responses, message and request ids included. ccusage counts a response once per
    message and request id, the report once per response claimed by the session it came from:
    the two agree session by session and day by day, and each counts fewer tokens than the
    transcripts' lines hold."""
    zone("UTC")
    project = tmp_path / "claude" / "projects" / "-fork"
    project.mkdir(parents=True)
    for source in sorted((trace_store.RECORDED / "fork").glob("*.jsonl")):
        if trace_store.SESSION_FILE.fullmatch(source.name):
            shutil.copy(source, project / source.name)
            os.utime(project / source.name, (0, 0))
    (repo / ".claude").mkdir()
    (repo / ".claude" / "traces.json").write_text(json.dumps({"experiment": "fork"}))
    assert traces.main(["import", str(project)]) == 0
    assert "Imported 3 new turn(s) from 2 session(s)" in capsys.readouterr().out
    recorded = {"base": tmp_path, "config": tmp_path / "claude"}
    ours = {r["key"]: r["tokens"] for r in report(capsys, "--by", "session")["rows"]}
    theirs = {r["sessionId"]: {k: r[v] for k, v in CC_TOKENS.items()}
              for r in ccusage(ccusage_bin, recorded, "UTC", "session")["sessions"]}
    assert len(ours) == 2 and ours == theirs
    days = {r["key"]: r["tokens"] for r in report(capsys, "--by", "day")["rows"]}
    assert days == {r["date"]: {k: r[v] for k, v in CC_TOKENS.items()}
                    for r in ccusage(ccusage_bin, recorded, "UTC", "daily")["daily"]}
    every_line = sum(json.loads(line)["message"]["usage"]["output_tokens"] for path in project.glob("*.jsonl")
                     for line in path.read_text().splitlines() if '"usage"' in line and '"assistant"' in line)
    assert every_line > sum(t["output"] for t in ours.values())
