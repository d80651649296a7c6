"""`traces ui` for the local store: a real `mlflow ui`, rendered by headless Chromium, stopped by Ctrl-C."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from helpers import ROOT
from test_search import store  # noqa: F401 - the session's engine-filled store

CHROMIUM = "/usr/bin/chromium"


def port_open(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def chromium(tmp_path, url, *how):
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,900",
         f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=30000", *how, url],
        capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed (CI installs chromium)")
def test_ui_serves_the_repositorys_traces_and_stops_on_ctrl_c(store, repo, tmp_path):  # noqa: F811
    (repo / ".claude").mkdir()
    (repo / ".claude" / "settings.json").write_text(json.dumps(
        {"env": {"MLFLOW_TRACKING_URI": store["uri"], "MLFLOW_EXPERIMENT_NAME": "acme/widgets"}}))
    info = store["infos"]["acme/widgets"][0]
    ui = subprocess.Popen([sys.executable, str(ROOT / "traces.py"), "ui", "--no-browser"], cwd=repo,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        url = None
        deadline = time.time() + 120
        while url is None and time.time() < deadline:
            line = ui.stdout.readline()
            assert line or ui.poll() is None, ui.stderr.read()
            match = re.search(r"(http://127\.0\.0\.1:(\d+)/#/experiments/(\d+)/traces)", line)
            if match:
                url, port = match.group(1), int(match.group(2))
        assert url, "traces ui printed no URL"
        assert match.group(3) == info.experiment_id
        assert "Ctrl-C" in ui.stdout.readline()

        dom = chromium(tmp_path, url, "--dump-dom").stdout
        prompt = info.request_preview.splitlines()[0].strip()
        assert info.trace_id in dom or prompt[:40] in dom, dom[-2000:]
        shot = tmp_path / "ui.png"
        chromium(tmp_path, url, f"--screenshot={shot}")
        assert shot.exists() and shot.stat().st_size > 10_000
        if os.environ.get("TRACES_UI_SCREENSHOT"):
            shot.replace(os.environ["TRACES_UI_SCREENSHOT"])     # to look at it by hand

        ui.send_signal(signal.SIGINT)                             # what Ctrl-C in the terminal does
        assert ui.wait(timeout=30) == 0
        assert "Stopped" in ui.stdout.read()
        for _ in range(20):
            if not port_open(port):
                break
            time.sleep(0.5)
        assert not port_open(port), "the MLflow UI still listens after Ctrl-C"
        log = os.path.join(os.environ["TRACES_HOME"], "ui.log")
        assert os.path.getsize(log) > 0
    finally:
        if ui.poll() is None:
            ui.kill()
