#!/bin/sh
# make demo: the main job on the embedded local store, no Claude Code and no server needed.
# A throwaway repository is wired with `traces init --local`, a session recorded from the real
# Claude Code 2.1.330 is imported as if its hooks had fired, and `traces search` and `traces show` show it; then
# sessions recorded from the real Codex, Gemini CLI and Copilot CLI, and a report by agent.
set -e
PY=${1:-python3}
case "$PY" in */*) PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")";; esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/traces-demo.XXXXXX")
export TRACES_HOME="$DEMO/traces-home"
traces() { "$PY" "$ROOT/traces.py" "$@"; }

mkdir "$DEMO/widgets" && cd "$DEMO/widgets"
git init -q -b main && git remote add origin git@github.com:acme/widgets.git
git -c user.name=Demo -c user.email=demo@example.com commit -q --allow-empty -m "first"

echo "\$ traces init --local --yes"; traces init --local --yes
echo; echo "\$ traces status"; traces status
SESSION=$(ls "$ROOT"/tests/fixtures/cc-2.1.330/resume/*-*.jsonl)
echo; echo "\$ traces import <a two-turn session recorded from the real Claude Code 2.1.330>"
traces import "$SESSION"
echo; echo "\$ traces search"; traces search
echo; echo "\$ traces show --session 14649fb6"; traces show --session 14649fb6 --no-pager
echo; echo "\$ traces search -f tools"; traces search -f tools
echo; echo "\$ traces report --by session"; traces report --by session
F="$ROOT/tests/fixtures"
echo; echo "\$ traces import <sessions recorded from the real Codex 0.169.0 (against a stand-in model, gpt-test: no price), Gemini CLI 0.61.0 and Copilot CLI 1.0.102>"
traces import "$F"/codex-0.169.0/resume/rollout-*.jsonl "$F"/gemini-0.61.0/resume/session-*.jsonl "$F/copilot-1.0.102/resumed"
echo; echo "\$ traces report --by agent"; traces report --by agent
echo; echo "\$ traces search --agent gemini -l 1"; traces search --agent gemini -l 1
echo; echo "(demo files in $DEMO; the local store is $TRACES_HOME/mlflow.db)"
