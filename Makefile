# make test   — venv, dependencies, the pinned Claude Code, Codex, Gemini CLI, Copilot CLI and ccusage, system packages; then pytest
#               (which makes an MLflow 3.10.1 environment with uv, in .cache/mlflow)
# make demo   — the main job on the embedded local store, no Claude Code needed
# make bench  — benchmarks (not part of make test)
# make lint   — ruff

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CLAUDE_VERSION := 2.1.330
CLAUDE := .cache/claude-code/node_modules/.bin/claude
CODEX_VERSION := 0.169.0
CODEX := .cache/codex/node_modules/.bin/codex
GEMINI_VERSION := 0.61.0
GEMINI := .cache/gemini-cli/node_modules/.bin/gemini
COPILOT_VERSION := 1.0.102
COPILOT := .cache/copilot/node_modules/.bin/copilot
CCUSAGE_VERSION := 20.0.24
CCUSAGE := .cache/ccusage/node_modules/.bin/ccusage

.PHONY: test demo bench lint deps system-deps claude codex gemini copilot ccusage clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.deps: pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[mlflow,databricks,dev]'
	touch $@

deps: $(VENV)/.deps

$(CLAUDE):
	mkdir -p .cache/claude-code
	cd .cache/claude-code && npm install --no-audit --no-fund --loglevel=error @anthropic-ai/claude-code@$(CLAUDE_VERSION)

claude: $(CLAUDE)

# Codex CLI (npm ships a ~300 MB native binary per platform), pinned like Claude Code.
$(CODEX):
	mkdir -p .cache/codex
	npm install --prefix .cache/codex --no-audit --no-fund --loglevel=error @openai/codex@$(CODEX_VERSION)

codex: $(CODEX)

# Gemini CLI (a node package, no native binary), pinned like the others.
$(GEMINI):
	mkdir -p .cache/gemini-cli
	npm install --prefix .cache/gemini-cli --no-audit --no-fund --loglevel=error @google/gemini-cli@$(GEMINI_VERSION)

gemini: $(GEMINI)

# GitHub Copilot CLI: the npm package is a loader for a ~200 MB native binary, pinned likewise.
$(COPILOT):
	mkdir -p .cache/copilot
	npm install --prefix .cache/copilot --no-audit --no-fund --loglevel=error @github/copilot@$(COPILOT_VERSION)

copilot: $(COPILOT)

# ccusage, the usage report people compare with: test_report.py checks `traces report` against
# it on the same transcripts (offline: its embedded prices; npm ships a native binary per platform).
$(CCUSAGE):
	mkdir -p .cache/ccusage
	npm install --prefix .cache/ccusage --no-audit --no-fund --loglevel=error ccusage@$(CCUSAGE_VERSION)

ccusage: $(CCUSAGE)

# PostgreSQL (the self-hosted server tests), Chromium (the UI test) and tmux (interactive
# Claude Code sessions), from Debian.
system-deps:
	@sh tests/system-deps.sh

test: deps claude codex gemini copilot ccusage system-deps
	$(PY) -m pytest -q

demo: deps
	@sh tests/demo.sh $(PY)

bench: deps claude
	$(PY) tests/bench/run.py

lint: deps
	$(PY) -m ruff check traces.py tests

clean:
	rm -rf $(VENV) .cache tests/bench/.cache
