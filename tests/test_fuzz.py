"""Fuzzing with hypothesis: whatever a transcript, a hook input or a settings file holds, traces
neither crashes nor loses what is not its own.

Deterministic (derandomize=True, no example database) and small enough for `make test`.
"""

import io
import json
import os
import shutil
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import traces

FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])

# --- strategies ------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=12)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
LINE_TYPES = ["user", "assistant", "attachment", "system", "queue-operation", "last-prompt", "tools-used",
              "api-request", "api-request-shape", "api-request-blob", "atis-latch", "mode", "cost-state",
              "summary", "progress", "file-history-snapshot"]
IDS = ["toolu_1", "toolu_2", "agent-a", "msg_1", "msg_2"]
ids = st.sampled_from(IDS) | json_values
counts = st.integers(-10**12, 10**12) | json_values
usage = st.fixed_dictionaries({}, optional={
    "input_tokens": counts, "output_tokens": counts, "cache_read_input_tokens": counts,
    "cache_creation_input_tokens": counts,
    "cache_creation": st.fixed_dictionaries({}, optional={"ephemeral_1h_input_tokens": counts,
                                                          "ephemeral_5m_input_tokens": counts}) | json_values})
tool_input = st.fixed_dictionaries({}, optional={
    "prompt": st.sampled_from(["do it", "look"]) | json_values, "subagent_type": json_values,
    "file_path": st.sampled_from(["/work/project/a.py", "rel.py"]) | json_values,
    "run_in_background": json_values, "command": json_values}) | json_values
text = st.text(max_size=30) | st.sampled_from(["<task-notification><task-id>agent-a</task-id>", "do it", "look",
                                              "<command-name>/x", "Async agent launched successfully"])
block = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "tool_use", "tool_result", "thinking", "image"]) | json_values},
    optional={"text": text | json_values, "id": ids, "name": st.sampled_from(["Agent", "Task", "Write", "Bash"])
              | json_values, "input": tool_input, "tool_use_id": ids, "content": text | json_values,
              "is_error": json_values})
content = text | st.lists(block | json_values, max_size=4) | json_values
stamp = st.sampled_from(["2026-11-20T09:00:00Z", "2026-11-20T09:00:05.123Z", "9999-12-31T23:59:59",
                         "0001-01-01T00:00:00", "2026-13-45", ""]) | json_values
message = st.fixed_dictionaries({}, optional={
    "id": ids, "model": st.sampled_from(["claude-sonnet-4-5", "<synthetic>"]) | json_values, "role": json_values,
    "content": content, "usage": usage | json_values,
    "stop_reason": st.sampled_from(["end_turn", "tool_use", "max_tokens"]) | json_values}) | json_values
record = st.fixed_dictionaries({"type": st.sampled_from(LINE_TYPES) | json_values}, optional={
    "message": message, "timestamp": stamp, "uuid": ids, "toolUseResult": st.none() | json_values
    | st.fixed_dictionaries({"agentId": ids}), "isSidechain": json_values, "isMeta": json_values,
    "isCompactSummary": json_values, "origin": json_values, "content": text | json_values, "agentId": ids,
    "cwd": json_values, "gitBranch": json_values, "version": json_values, "subtype": json_values})


@st.composite
def lines(draw):
    """One transcript line as bytes: a record, cut short, not UTF-8, huge, deep, or noise."""
    kind = draw(st.sampled_from(["record"] * 6 + ["cut", "not-utf8", "noise", "huge", "deep", "not-object"]))
    body = json.dumps(draw(record), separators=(",", ":")).encode()
    if kind == "cut":
        body = body[:draw(st.integers(0, max(len(body) - 1, 0)))]
    elif kind == "not-utf8":
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"])) + body[at:]
    elif kind == "noise":
        body = draw(st.binary(max_size=40))
    elif kind == "huge":
        body = json.dumps({"type": "assistant", "message": {"id": "msg_1", "content": [
            {"type": "text", "text": "x" * 300_000}], "usage": {"output_tokens": 7}}}).encode()
    elif kind == "deep":
        depth = draw(st.sampled_from([50, 400, 990, 20_000]))
        body = b'{"type":"user","message":{"content":' + b"[" * depth + b"]" * depth + b"}}"
    elif kind == "not-object":
        body = json.dumps(draw(json_values)).encode()
    return body.replace(b"\n", b" ")


@st.composite
def transcripts(draw):
    data = b"\n".join(draw(st.lists(lines(), max_size=12)))
    return data + (b"\n" if draw(st.booleans()) else b"")


def check_usage(turn):
    usage = turn["usage"]
    assert all(isinstance(v, int) and v >= 0 for v in usage.values()), usage
    assert usage["total"] == sum(usage[k] for k in traces.TOKEN_KINDS)
    assert turn["cost"] is None or turn["cost"] >= 0
    for step in turn["steps"]:
        if step.get("subagent"):
            check_usage(step["subagent"])


# --- transcripts -----------------------------------------------------------------------------

def jsonl(*records):
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


PROMPT = {"type": "user", "message": {"content": "do it"}}
AGENT_CALL = {"type": "assistant", "message": {"id": "msg_1", "content": [
    {"type": "tool_use", "id": "toolu_1", "name": "Agent", "input": {"prompt": "do it"}}]}}
AGENT_DONE = {"type": "user", "message": {"content": [{"type": "tool_result", "tool_use_id": "toolu_1"}]}}


# Found by this test, kept as fixed cases: a message id or tool_use_id that is not a string
# (unhashable), an agentId that is not a string, and nesting deeper than json's recursion limit.
@example(data=jsonl(PROMPT, {"type": "assistant", "message": {"id": ["x"], "content": []}}), agents=[],
         final=True, offset=0)
@example(data=jsonl(PROMPT, {"type": "user", "message": {"content": [{"type": "tool_result", "tool_use_id": {}}]}}),
         agents=[], final=True, offset=0)
@example(data=jsonl(PROMPT, AGENT_CALL, AGENT_DONE), final=True, offset=0,
         agents=[("a", jsonl({"type": "user", "agentId": ["a"], "message": {"content": "do it"}}))])
@example(data=b'{"type":"user","message":{"content":' + b"[" * 100_000 + b"]" * 100_000 + b"}}\n", agents=[],
         final=True, offset=0)
@settings(FUZZ, max_examples=150)
@given(data=transcripts(), agents=st.lists(st.tuples(st.sampled_from(["a", "b", "agent-a"]), transcripts()),
                                           max_size=3), final=st.booleans(), offset=st.integers(0, 50))
def test_any_transcript_is_read_and_analysed_without_raising(tmp_path, data, agents, final, offset):
    path = tmp_path / "sess.jsonl"
    path.write_bytes(data)
    folder = tmp_path / "sess" / "subagents"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, agent_data in agents:
        (folder / f"agent-{name}.jsonl").write_bytes(agent_data)
    offset = min(offset, len(data))
    records, end, bad = traces.read_lines(str(path), offset, final)
    assert offset <= end <= len(data) and bad >= 0
    assert [o for o, _ in records] == sorted({o for o, _ in records})
    turns = traces.split_turns(records)
    for subagents in (None, traces.Subagents(str(folder))):
        for turn in turns:
            first = turn["records"][0]
            analysed = traces.analyse(turn["records"], traces.parse_time(first.get("timestamp")), subagents)
            check_usage(analysed)
            assert isinstance(analysed["prompt"], str) and isinstance(analysed["answer"], str)


# --- hook inputs -----------------------------------------------------------------------------

class Stdin:
    def __init__(self, data):
        self.buffer = io.BytesIO(data)


hook_payloads = (
    st.binary(max_size=60)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.fixed_dictionaries(
        {"hook_event_name": st.sampled_from(["Stop", "SubagentStop", "SessionEnd", "PostToolUse", "postToolUse"])
         | json_values},
        optional={"session_id": st.sampled_from(["sess-1", "../x", ".hidden", "", "a/b"]) | json_values,
                  "transcript_path": st.text(max_size=20) | json_values, "cwd": json_values,
                  "last_assistant_message": json_values, "agent_id": json_values, "reason": json_values,
                  "sessionId": json_values, "hookEventName": json_values}).map(lambda v: json.dumps(v).encode())
    | st.sampled_from([b"[" * 100_000, b'{"hook_event_name":"Stop","session_id":"s","x":' + b"[" * 5000 + b"]" * 5000
                       + b"}", b"\xff\xfe{}", b'{"hook_event_name":"Stop","session_id":"s"}' * 2]))


@settings(FUZZ, max_examples=150)
@given(stdin=hook_payloads)
def test_any_hook_input_exits_zero_and_prints_nothing(monkeypatch, capsys, stdin):
    monkeypatch.setattr(traces, "start_worker", lambda: None)
    monkeypatch.setattr("sys.stdin", Stdin(stdin))
    before = len(traces.pending_jobs())
    assert traces.main(["hook"]) == 0
    assert capsys.readouterr() == ("", "")
    try:
        payload = json.loads(stdin)
    except (ValueError, RecursionError):
        payload = None
    is_claude = traces.job_from_hook_input(payload, {}, {}) is not None
    assert len(traces.pending_jobs()) == before + is_claude


# --- settings files --------------------------------------------------------------------------

EVENTS = ["Stop", "SubagentStop", "SessionEnd", "PreToolUse", "UserPromptSubmit"]
commands = st.sampled_from([traces.HOOK_COMMAND, "traces hook", "python -m mlflow.claude_code.hooks stop",
                            "./lint.sh", "echo done", "npx prettier --write ."]) | st.text(max_size=15)
hook_entry = st.fixed_dictionaries({"type": st.just("command"), "command": commands},
                                   optional={"timeout": st.integers(1, 600)}) | json_values
group = st.fixed_dictionaries({"hooks": st.lists(hook_entry, max_size=3)},
                              optional={"matcher": st.sampled_from(["", "Bash", "Write|Edit"])})
env_block = st.dictionaries(st.sampled_from(list(traces.OUR_ENV_KEYS) + ["FOO", "NODE_ENV", "PATH_EXTRA"])
                            | st.text(min_size=1, max_size=6), st.text(max_size=10) | json_values, max_size=5)
shaped = st.fixed_dictionaries({}, optional={
    "env": env_block, "environment": env_block,     # `environment`: older tools' block, not ours to touch
    "hooks": st.dictionaries(st.sampled_from(EVENTS) | st.text(min_size=1, max_size=5),
                             st.lists(group, max_size=3), max_size=4),
    "permissions": json_values, "model": json_values, "statusLine": json_values, "x-team": json_values})
settings_files = (
    shaped.flatmap(lambda d: st.sampled_from([0, 2, 4]).map(lambda indent: json.dumps(d, indent=indent or None)))
    | json_values.map(json.dumps)
    | st.sampled_from(["", "  \n", "{", '{"env": []}', '{"hooks": {"Stop": {}}}', '{"hooks": {"Stop": [1]}}',
                       "[]", "null", '{"a": 1} trailing']).map(str)
).map(str.encode) | st.sampled_from([b"\xff\xfe{}", b'{"env": {"A": "\xe9"}}'])


def foreign(data):
    """What in a settings object is not ours: other keys (in order), other env vars, other hooks (in order)."""
    if not isinstance(data, dict):
        return None
    env = data.get("env") or {}
    hooks = {event: [h for g in groups for h in g.get("hooks", [])
                     if not (isinstance(h, dict) and traces.is_our_hook(h.get("command")))]
             for event, groups in (data.get("hooks") or {}).items()}
    return ([k for k in data if k not in ("env", "hooks")],
            {k: data[k] for k in data if k not in ("env", "hooks")},
            {k: v for k, v in env.items() if k not in traces.OUR_ENV_KEYS},
            {e: h for e, h in hooks.items() if h})


@pytest.fixture
def fast_init(monkeypatch):
    # Probing the hook runs it as a process: right in test_settings, only slow here.
    monkeypatch.setattr(traces, "probe_hook", lambda root: {"version": traces.__version__, "python": "x"})


@settings(FUZZ, max_examples=120)
@given(raw=settings_files)
def test_init_and_disable_keep_what_is_not_ours_or_change_nothing(repo, fast_init, capsys, raw):
    shutil.rmtree(repo / ".claude", ignore_errors=True)
    record = os.path.join(os.environ["TRACES_HOME"], "created-settings.json")
    if os.path.exists(record):
        os.remove(record)
    path = repo / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_bytes(raw)
    try:
        loaded, _ = traces.load_settings(str(path))
    except traces.TracesError:
        loaded = None

    code = traces.main(["init", "--local", "--yes"])
    out, err = capsys.readouterr()
    if loaded is None:
        assert code == 1 and err.startswith("Error: ") and path.read_bytes() == raw
        assert traces.main(["disable"]) == 1 and path.read_bytes() == raw
        return
    assert code == 0, err
    after_init = json.loads(path.read_text())
    assert foreign(after_init) == foreign(loaded)
    assert traces.has_current_hooks(after_init)
    assert not set(after_init.get("env") or {}) & set(traces.OUR_ENV_KEYS)    # nothing Claude would export

    assert traces.main(["disable"]) == 0, capsys.readouterr().err
    after = json.loads(path.read_text()) if path.exists() else {}
    assert foreign(after) == foreign(loaded)
    assert not any(traces.is_our_hook(h.get("command")) for gs in (after.get("hooks") or {}).values()
                   for g in gs for h in g.get("hooks", []) if isinstance(h, dict))
    assert not set(after.get("env") or {}) & set(traces.OUR_ENV_KEYS)


# --- redaction -------------------------------------------------------------------------------

# The vocabulary the rules look for: names, operators, quotes, prefixes, flags. Lines built
# from it are the ones that could make a rule try a match at every position and rescan.
REDACT_VOCABULARY = ["password", "PASSWORD", "token", "api_key", "secret", "_pass", "=", ":", ": ", "'", '"',
                     '\\"', "\\n", "://", "@", "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----",
                     "eyJ", "eyJaaaaaaaaaaaa.", "Bearer ", "Authorization: ", "--password ", "--token=",
                     "-u ", "x:", "mysql -p", "sshpass -p ", "auth=(", "login ", ":5432:", "X-API-Key: ",
                     "ghp_", "sk-", "AKIA", "a", "0", "/", " ", "$", "{{", "<", "xxxxx", "\n", "&", "?",
                     # The prefixes and names the triggers are anchored on, in their cases.
                     "github_pat_", "gldt-", "xoxb-", "hooks.slack.com/", "sk_live_", "SG.", "SKf0", "hf_",
                     "npm_", "pypi-AgE", "dapi0", "AIza", "AccountKey=", "?sig=", "client-key-data",
                     "SecretAccessKey", "bearer ", "BEARER ", "AUTHORIZATION=", '"auth"', "_authToken",
                     "passphrase", "_pwd", "Credentials", "--user ", "x-auth-token:", ":*:", "\t", "]",
                     # Characters of two, three and four bytes in UTF-8, which the pre-filter reads.
                     "é", "€", "😀"]
redact_lines = st.lists(st.sampled_from(REDACT_VOCABULARY), max_size=60).map("".join)


@pytest.mark.usefixtures("both_redaction_paths")
@settings(FUZZ, max_examples=400)
@given(text=redact_lines)
def test_redaction_is_idempotent(text):
    for form in (text, json.dumps(text)):
        once = traces.redact_text(form)
        assert traces.redact_text(once) == once


@pytest.mark.usefixtures("both_redaction_paths")
@settings(FUZZ, max_examples=400)
@given(text=redact_lines)
def test_redaction_rule_that_can_match_is_triggered(text):
    # Rules run only where their trigger matched: one that a match can lack lets it through.
    for form in (text, json.dumps(text)):
        triggered = traces._triggered(form)
        for index, (kind, regex, _) in enumerate(traces.REDACTIONS):
            assert index in triggered or not regex.search(form), kind


@pytest.mark.usefixtures("both_redaction_paths")
@settings(FUZZ, max_examples=400)
@given(text=redact_lines)
def test_redaction_rule_matches_lie_on_a_line_that_triggers_it(text):
    # A rule runs only on the lines where its trigger matched (but a private key's rules).
    for form in (text, json.dumps(text)):
        for index, (kind, regex, _) in enumerate(traces.REDACTIONS):
            if kind == "private-key":
                continue
            for match in regex.finditer(form):
                start, end = form.rfind("\n", 0, match.start()) + 1, form.find("\n", match.start())
                line = form[start:] if end < 0 else form[start:end]
                assert "\n" not in match.group() and index in traces._triggered(line), kind


@pytest.mark.usefixtures("both_redaction_paths")
@settings(FUZZ, max_examples=40)
@given(unit=st.lists(st.sampled_from(REDACT_VOCABULARY), min_size=1, max_size=6).map("".join))
def test_redaction_time_is_linear_on_repeated_vocabulary(unit):
    assert _growth(unit) < 25, unit


# Units whose repetition made a rule rescan the rest of the line at each occurrence, or that
# sit at the edge of a rule's bounded window.
ADVERSARIAL = ["password=a", "token:x/", "password='a", '"a://b:c"', "a://b:c@", "-----BEGIN PRIVATE KEY-----",
               "eyJaaaaaaaaaaaa.", "Bearer ", "--password ", "x@", "a", "0", "password: a\\n", "sk-", "X-API-Key: ",
               "h:5432:d:u:", "mysql -p", 'auth=("', "login a password ", "_auth ", "PASSWORD=\"$", "://",
               " login -p", "htpasswd -b ", "--password '", "redis-cli -a", 'HTTPBasicAuth("a",', "mysql -u ",
               "AC0123456789abcdef0123456789abcdef ", "abc8Q~", " -passin ", "password=a b="]


def _growth(unit):
    """time(redact 200 KB) / time(redact 20 KB) of `unit` repeated: 10 when linear, 100 when
    quadratic. Best of three, in CPU time (a loaded machine stretches wall time, not this); raw and as
    a JSON string."""
    timings = []
    for size in (20_000, 200_000):
        text = unit * (size // len(unit))
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            traces.redact_text(text)
            traces.redact_text(json.dumps(text))
            best = min(best, time.process_time() - start)
        timings.append(max(best, 1e-4))
    return timings[1] / timings[0]


@pytest.mark.usefixtures("both_redaction_paths")
@pytest.mark.parametrize("unit", ADVERSARIAL)
def test_redaction_time_is_linear_on_adversarial_lines(unit):
    assert _growth(unit) < 25


@settings(FUZZ, max_examples=400)
@given(text=redact_lines)
@example("x\npassword Hx8kLq2v\n")  # `pass` and `password ` overlap: both anchor rules
def test_redaction_is_the_same_with_and_without_the_prefilter(text):
    # ahocorasick_rs's anchors stand in for the trigger scan: each rule must run on every line
    # where it can match (a private key's on the whole text), and redact the same.
    for form in (text, json.dumps(text)):
        (lines, line_rules), with_it = traces._triggered_lines(form), traces.redact_text(form)
        saved = traces._PREFILTER[:]
        traces._PREFILTER[:] = [None]
        try:
            without = traces.redact_text(form)
        finally:
            traces._PREFILTER[:] = saved
        assert with_it == without
        runs = {(index, form[start:end]) for (start, end), rules in zip(lines, line_rules, strict=True) for index in rules}
        for index, (kind, regex, _) in enumerate(traces.REDACTIONS):
            for match in regex.finditer(form):
                start, end = form.rfind("\n", 0, match.start()) + 1, form.find("\n", match.start())
                line = form[start:] if end < 0 else form[start:end]
                assert (index, line) in runs or kind == "private-key" and any(index in rules for rules in line_rules), kind
