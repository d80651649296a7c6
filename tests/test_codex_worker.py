"""Codex hook jobs → the worker → traces: the resume fixture replayed hook by hook, the rollout
growing as it did when each hook ran (tests/fixtures/codex-0.169.0/resume/hooks.jsonl)."""

import json
import os
from pathlib import Path

import pytest

import traces

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "codex-0.169.0" / "resume"


def store_uri():
    return "sqlite:///" + os.path.join(os.environ["TRACES_HOME"], "mlflow.db")


def stored_traces(experiment="acme/widgets"):
    import mlflow
    client = mlflow.MlflowClient(store_uri())
    found = client.get_experiment_by_name(experiment)
    return [] if found is None else client.search_traces(locations=[found.experiment_id], max_results=100)


def setup(tmp_path, monkeypatch):
    """A repository wired for Codex, a CODEX_HOME, and the hook's environment."""
    repo = tmp_path / "widgets"
    (repo / ".claude").mkdir(parents=True)
    (repo / ".claude" / "traces.json").write_text(json.dumps({"experiment": "acme/widgets"}))
    (repo / ".claude" / "traces.local.json").write_text(json.dumps({"tracking_uri": store_uri()}))
    home = tmp_path / "codex-home"
    source = next(FIXTURE.glob("rollout-*.jsonl"))
    rollout = home / "sessions" / "2026" / "12" / "02" / source.name
    rollout.parent.mkdir(parents=True)
    monkeypatch.setattr(traces, "start_worker", lambda: None)
    env = {**os.environ, "CODEX_HOME": str(home), "CLAUDE_PROJECT_DIR": str(repo), traces.ENV_AGENT: "codex"}
    return repo, source, rollout, env


def replay(source, rollout, repo, env, hook):
    """Grow the rollout to what it held when the hook ran, then run our hook with its input."""
    lines = source.read_text().splitlines(keepends=True)
    rollout.write_text("".join(lines[:hook["rollout_lines"]]))
    payload = {**hook["stdin"], "transcript_path": str(rollout), "cwd": str(repo)}
    traces.hook(json.dumps(payload).encode(), env)


def hooks():
    return [json.loads(line) for line in (FIXTURE / "hooks.jsonl").read_text().splitlines()]


def test_each_turn_is_traced_once_across_a_resume(tmp_path, monkeypatch):
    repo, source, rollout, env = setup(tmp_path, monkeypatch)
    uploaders, counts = {}, []
    for hook in hooks():
        replay(source, rollout, repo, env, hook)
        assert traces.drain_spool(uploaders)
        counts.append(len(stored_traces()))
    assert counts == [1, 1, 2, 2]
    found = sorted(stored_traces(), key=lambda t: t.info.request_time)
    assert [t.info.tags["agent"] for t in found] == ["codex", "codex"]
    assert traces.pending_jobs() == []


def test_a_stop_ends_only_the_turn_whose_answer_it_reports(tmp_path, monkeypatch):
    repo, source, rollout, env = setup(tmp_path, monkeypatch)
    first = hooks()[0]
    replay(source, rollout, repo, env, {**first, "stdin": {**first["stdin"], "last_assistant_message": "other"}})
    assert traces.drain_spool({})
    assert stored_traces() == []                  # held: no task_complete, and not its answer
    replay(source, rollout, repo, env, hooks()[1])  # SessionEnd vouches for it
    assert traces.drain_spool({})
    assert len(stored_traces()) == 1


def test_a_session_outside_the_repository_is_not_recorded(tmp_path, monkeypatch):
    repo, source, rollout, env = setup(tmp_path, monkeypatch)
    replay(source, rollout, tmp_path / "elsewhere", env, hooks()[0])
    payload = {**hooks()[0]["stdin"], "transcript_path": str(rollout), "cwd": str(tmp_path / "elsewhere")}
    traces.hook(json.dumps(payload).encode(), env)
    assert traces.pending_jobs() == []


def test_a_codex_job_for_a_file_outside_the_sessions_folder_is_refused(tmp_path, monkeypatch):
    repo, source, rollout, env = setup(tmp_path, monkeypatch)
    outside = tmp_path / "stray.jsonl"
    outside.write_text(source.read_text())
    traces.hook(json.dumps({**hooks()[1]["stdin"], "transcript_path": str(outside), "cwd": str(repo)}).encode(), env)
    assert traces.drain_spool({})
    assert stored_traces() == []


def test_import_takes_past_codex_sessions_of_this_repository(tmp_path, monkeypatch, capsys):
    repo, source, rollout, env = setup(tmp_path, monkeypatch)
    lines = source.read_text().replace("/tmp/claudetracing-codex-fixture/exec/widgets", str(repo))
    rollout.write_text(lines)
    os.utime(rollout, (1, 1))                                      # quiet for long: over
    monkeypatch.setenv("CODEX_HOME", env["CODEX_HOME"])
    monkeypatch.chdir(repo)
    assert traces.main(["import"]) == 0
    assert "Imported 2 new turn(s)" in capsys.readouterr().out
    assert traces.main(["import"]) == 0
    assert "Imported 0 new turn(s)" in capsys.readouterr().out
    assert len(stored_traces()) == 2


# --- rollouts named on the command line ---------------------------------------------------

FIXTURES = FIXTURE.parent


def copy_rollouts(name, folder, model=None):
    """The fixture's rollouts under folder/sessions/2026/12/02, as Codex nests them, each quiet
    for long (over); model: what their responses name instead of the stand-in gpt-test."""
    day = folder / "sessions" / "2026" / "12" / "02"
    day.mkdir(parents=True, exist_ok=True)
    copies = []
    for source in sorted((FIXTURES / name).glob("rollout-*.jsonl")):
        text = source.read_text()
        if model:
            text = text.replace('"model":"gpt-test"', f'"model":"{model}"')
        copy = day / source.name
        copy.write_text(text)
        os.utime(copy, (1, 1))
        copies.append(copy)
    return copies


def import_here(tmp_path, monkeypatch, *paths):
    repo = tmp_path / "widgets"
    (repo / ".claude").mkdir(parents=True, exist_ok=True)
    (repo / ".claude" / "traces.json").write_text(json.dumps({"experiment": "acme/widgets"}))
    (repo / ".claude" / "traces.local.json").write_text(json.dumps({"tracking_uri": store_uri()}))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "empty-codex-home"))     # nothing found there
    monkeypatch.chdir(repo)
    return traces.main(["import", *map(str, paths)])


def token_tags(found):
    kinds = ("input", "output", "cache_read", "cache_creation", "total")
    return {k: sum(int(t.info.tags[f"tokens.{k}"]) for t in found) for k in kinds}


def own_total(rollout):
    import codex_harness
    return traces.codex_usage(codex_harness.last_token_count(rollout))


def test_import_of_a_rollout_given_by_path_traces_its_turns(tmp_path, monkeypatch, capsys):
    (rollout,) = copy_rollouts("resume", tmp_path / "codex-home")
    assert import_here(tmp_path, monkeypatch, rollout) == 0
    assert "Imported 2 new turn(s) from 1 session(s)" in capsys.readouterr().out
    found = stored_traces()
    assert [t.info.tags["agent"] for t in found] == ["codex", "codex"]
    expected = own_total(rollout)
    assert token_tags(found) == {k: expected[k] for k in token_tags(found)}
    assert import_here(tmp_path, monkeypatch, rollout) == 0                  # again: nothing twice
    assert "Imported 0 new turn(s)" in capsys.readouterr().out


def test_import_of_a_sessions_folder_finds_rollouts_nested_by_date(tmp_path, monkeypatch, capsys):
    """A subagent's rollout beside its parent's is traced inside the parent's turn, not alone."""
    home = tmp_path / "codex-home"
    exec_rollout, = copy_rollouts("exec", home)
    parent, agent = copy_rollouts("subagent", home)
    assert import_here(tmp_path, monkeypatch, home / "sessions") == 0
    assert "Imported 2 new turn(s) from 2 session(s)" in capsys.readouterr().out
    found = {t.info.trace_metadata["mlflow.trace.session"]: t for t in stored_traces()}
    assert set(found) == {exec_rollout.name[-len("01a23708-9c7d-7473-a729-9611536ba219.jsonl"):-6],
                          parent.name[-len("01a23708-ac3d-70f0-94c8-de743ed08a4a.jsonl"):-6]}
    both = {k: own_total(exec_rollout)[k] + own_total(parent)[k] + own_total(agent)[k]
            for k in ("input", "output", "cache_read", "cache_creation", "total")}
    assert token_tags(found.values()) == both


def test_a_rollout_of_a_model_only_genai_prices_knows_gets_its_price(tmp_path, monkeypatch, capsys):
    from genai_prices import Usage, calc_price
    (rollout,) = copy_rollouts("exec", tmp_path / "codex-home", model="gpt-5.1-codex")
    assert import_here(tmp_path, monkeypatch, rollout) == 0
    (trace,) = stored_traces()
    expected = 0.0
    for line in rollout.read_text().splitlines():
        record = json.loads(line)
        if record["type"] == "token_usage_record":       # one per response, in OpenAI's own counts
            raw = record["payload"]["usage"]
            expected += float(calc_price(Usage(input_tokens=raw["input_tokens"],
                                               cache_read_tokens=raw["cached_input_tokens"],
                                               cache_write_tokens=raw["cache_write_input_tokens"],
                                               output_tokens=raw["output_tokens"]), "gpt-5.1-codex").total_price)
    assert expected > 0 and float(trace.info.tags["cost.usd"]) == pytest.approx(expected, abs=1e-6)
    assert trace.info.trace_metadata["mlflow.trace.session"] in rollout.name


def test_search_and_report_say_when_a_turn_has_no_price(tmp_path, monkeypatch, capsys):
    """The stand-in model gpt-test has no price anywhere: shown as such, never as $0."""
    home = tmp_path / "codex-home"
    copy_rollouts("exec", home)                                   # gpt-test: unpriced
    copy_rollouts("subagent", home, model="gpt-5.1-codex")        # priced
    assert import_here(tmp_path, monkeypatch, home) == 0
    capsys.readouterr()
    unpriced = next(t for t in stored_traces() if "gpt-test" in t.info.trace_metadata["claudetracing.models"])
    assert "cost.usd" not in unpriced.info.tags
    assert traces.main(["search", "--trace-id", unpriced.info.trace_id]) == 0
    assert "cost no price" in capsys.readouterr().out
    assert traces.main(["search", "-f", "context", "--trace-id", unpriced.info.trace_id]) == 0
    assert "Cost: no price," in capsys.readouterr().out
    assert traces.main(["report", "--by", "model", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {r["key"]: r for r in report["rows"]}
    assert rows["gpt-test"]["cost_usd"] is None and rows["gpt-test"]["turns_without_cost"] == 1
    assert rows["gpt-5.1-codex"]["cost_usd"] > 0 and rows["gpt-5.1-codex"]["turns_without_cost"] == 0
    assert report["total"]["cost_usd"] == rows["gpt-5.1-codex"]["cost_usd"] and report["total"]["turns_without_cost"] == 1
    assert traces.main(["report", "--by", "model"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert next(x for x in lines if x.startswith("gpt-test")).endswith("no price*")
    assert next(x for x in lines if x.startswith("TOTAL")).endswith("*")
    assert lines[-1] == "* 1 of 2 turn(s) used a model without a known price: their cost is not included."
