"""Whole-trace writes and `traces import` of many sessions: the same traces as span by span,
each turn once, in batches, with progress."""

import json
import os
import shutil
import sys
import uuid

import pytest
from helpers import RECORDED

import traces

SCENARIOS = sorted(p.name for p in RECORDED.iterdir() if p.is_dir())


def sessions_of(scenario):
    return sorted(p for p in (RECORDED / scenario).glob("*.jsonl") if p.name != "hooks.jsonl")


def upload(tmp_path, monkeypatch, uri, experiment, whole, scenario):
    """Trace a recorded scenario's sessions from scratch (a TRACES_HOME of their own);
    returns {turn id: trace}."""
    monkeypatch.setenv("TRACES_HOME", str(tmp_path / experiment))
    uploader = traces.Uploader({"MLFLOW_TRACKING_URI": uri, "MLFLOW_EXPERIMENT_NAME": experiment})
    if not whole:
        uploader._whole = False             # the span-by-span path, as before 0.10
    assert uploader.whole_traces() == whole
    for path in sessions_of(scenario):
        traces.trace_session(path.stem, str(path), uploader, final=True, context={"cwd": None, "env": {}})
    found = uploader.client.search_traces(locations=[uploader.experiment()], include_spans=True)
    return {t.info.tags[traces.TAG_TURN]: t for t in found}


def span_rows(trace):
    """Each span by its path of names from the root (ids differ between uploads)."""
    by_id = {s.span_id: s for s in trace.data.spans}

    def path(span):
        return (path(by_id[span.parent_id]) if span.parent_id else ()) + (span.name,)
    rows = {}
    for span in trace.data.spans:
        attributes = {k: v for k, v in span.attributes.items()
                      if k not in ("mlflow.traceRequestId", "mlflow.experimentId")}
        key = path(span)
        while key in rows:
            key += ("again",)
        rows[key] = {"type": span.span_type, "inputs": span.inputs, "outputs": span.outputs,
                     "attributes": attributes, "status": span.status.status_code,
                     "start": span.start_time_ns, "end": span.end_time_ns}
    return rows


def info_fields(trace):
    info = trace.info
    tags = {k: v for k, v in info.tags.items() if k != "mlflow.artifactLocation"}   # names the trace id
    metadata = dict(info.trace_metadata)
    # The store adds the spans' costs up: span by span it did so in another order, and
    # floating point sums differ in the last digits.
    cost = json.loads(metadata.pop("mlflow.trace.cost", "{}"))
    return {"tags": tags, "metadata": metadata, "cost": cost, "request_time": info.request_time,
            "execution_duration": info.execution_duration, "state": info.state,
            "request_preview": info.request_preview, "response_preview": info.response_preview}


def assert_same_traces(old, new):
    assert sorted(old) == sorted(new) and old
    for turn_id in old:
        a, b = info_fields(old[turn_id]), info_fields(new[turn_id])
        assert a.pop("cost") == pytest.approx(b.pop("cost"), rel=1e-12)
        for field in a:
            assert a[field] == b[field], (turn_id, field)
        rows_a, rows_b = span_rows(old[turn_id]), span_rows(new[turn_id])
        assert sorted(rows_a) == sorted(rows_b), turn_id
        for key in rows_a:
            assert rows_a[key] == rows_b[key], (turn_id, key)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_whole_traces_are_the_traces_span_by_span_made(tmp_path, monkeypatch, scenario):
    uri = "sqlite:///" + str(tmp_path / "mlflow.db")
    old = upload(tmp_path, monkeypatch, uri, "span-by-span", False, scenario)
    new = upload(tmp_path, monkeypatch, uri, "whole", True, scenario)
    assert_same_traces(old, new)


def test_whole_traces_on_a_server(tmp_path, monkeypatch, mlflow_server):
    for scenario in ("main", "resume"):
        old = upload(tmp_path, monkeypatch, mlflow_server.url, f"span-by-span-{scenario}", False, scenario)
        new = upload(tmp_path, monkeypatch, mlflow_server.url, f"whole-{scenario}", True, scenario)
        assert_same_traces(old, new)


# --- import of many sessions ---------------------------------------------------------------

def copy_sessions(folder, count):
    """`count` sessions made of the recorded two-turn resume session, each with fresh ids."""
    [source] = sessions_of("resume")
    lines = source.read_text().splitlines()
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(count):
        session = str(uuid.uuid4())
        text = "\n".join(lines).replace(source.stem, session).replace('"uuid":"', f'"uuid":"{session[:8]}-')
        (folder / f"{session}.jsonl").write_text(text + "\n")
        shutil.copytree(source.parent / source.stem, folder / session)
    return folder


def mlflow_client():
    import mlflow
    return mlflow.MlflowClient(traces.local_store_uri())


def experiment_id(name):
    return mlflow_client().get_experiment_by_name(name).experiment_id


def stored_turns(experiment):
    found = mlflow_client().search_traces(locations=[experiment_id(experiment)], max_results=1000,
                                          include_spans=False)
    return [t.info.tags[traces.TAG_TURN] for t in found]


def import_in(repo, monkeypatch, folder, experiment="many"):
    (repo / ".claude").mkdir(exist_ok=True)
    (repo / ".claude" / "traces.json").write_text(json.dumps({"experiment": experiment}))
    return traces.main(["import", str(folder)])


def test_import_of_many_sessions_in_batches_with_progress(repo, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(traces, "IMPORT_BATCH_TRACES", 7)          # batches that end mid-session
    writes = []
    real = traces.Uploader._write
    monkeypatch.setattr(traces.Uploader, "_write", lambda self, batch: writes.append(len(batch)) or real(self, batch))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    folder = copy_sessions(tmp_path / "history", 12)
    assert import_in(repo, monkeypatch, folder) == 0
    out, err = capsys.readouterr()
    assert "Imported 24 new turn(s) from 12 session(s)" in out
    assert "12/12 sessions" in err and "sessions/s" in err and "ETA" in err
    assert writes == [7, 7, 7, 3]
    turns = stored_turns("many")
    assert len(turns) == 24 == len(set(turns))
    assert not os.path.exists(traces.unwritten_path())

    # Again: nothing new; and with the checkpoints lost, each turn is still found, not doubled.
    assert import_in(repo, monkeypatch, folder) == 0
    assert "Imported 0 new turn(s)" in capsys.readouterr().out
    shutil.rmtree(os.path.join(os.environ["TRACES_HOME"], "state"))
    assert import_in(repo, monkeypatch, folder) == 0
    assert "Imported 0 new turn(s)" in capsys.readouterr().out
    assert sorted(stored_turns("many")) == sorted(turns)


class Killed(BaseException):
    """The process dies here (nothing after this runs: no except, only finally)."""


def test_a_killed_import_is_taken_up_again(repo, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(traces, "IMPORT_BATCH_TRACES", 4)
    folder = copy_sessions(tmp_path / "history", 5)
    real, calls = traces.Uploader._write, []

    def dies_on_second_batch(self, batch):
        calls.append(len(batch))
        if len(calls) == 2:
            # The infos (with the turn tags) written, the spans not: then the process is killed.
            for trace in batch:
                self.client._tracing_client.store.start_trace(trace.info)
            raise Killed
        real(self, batch)
    monkeypatch.setattr(traces.Uploader, "_write", dies_on_second_batch)
    with pytest.raises(Killed):
        import_in(repo, monkeypatch, folder)
    assert os.path.exists(traces.unwritten_path())
    monkeypatch.setattr(traces.Uploader, "_write", real)
    assert import_in(repo, monkeypatch, folder) == 0
    turns = stored_turns("many")
    assert len(turns) == 10 == len(set(turns)), "each turn once, no partial trace left"
    found = mlflow_client().search_traces(locations=[experiment_id("many")], max_results=100, include_spans=True)
    assert all(t.data.spans for t in found)
    assert not os.path.exists(traces.unwritten_path())


@pytest.mark.parametrize("what", ["text", "binary", "empty", "folder without transcripts"])
def test_import_of_files_without_transcript_lines_is_an_error(repo, tmp_path, capsys, what):
    path = tmp_path / "not-a-transcript"
    if what == "folder without transcripts":
        path.mkdir()
        (path / "notes.txt").write_text("{}\n")
    else:
        path.write_bytes({"text": b"root:x:0:0:root:/root:/bin/bash\n", "binary": b"\x7fELF\x02\x01\x00" * 50,
                          "empty": b""}[what])
    assert traces.main(["import", str(path)]) == 1
    assert capsys.readouterr().err == f"Error: {path} holds no Claude Code transcript, Codex rollout, Gemini CLI chat or Copilot CLI session; nothing was imported\n"
    assert not os.path.exists(os.environ["TRACES_HOME"])


def test_import_of_a_transcript_without_a_finished_turn_is_no_error(repo, tmp_path, capsys):
    from transcripts import Transcript
    t = Transcript(cwd=str(repo))
    t.prompt("still thinking")
    path = t.write(str(tmp_path / "projects"))
    assert traces.main(["import", path]) == 0
    assert "Imported 0 new turn(s)" in capsys.readouterr().out
