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
from test_search import mixed, store  # noqa: F401 - the session's engine-filled stores

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


class DevTools:
    """Headless Chromium driven through the DevTools protocol on a pipe (--remote-debugging-pipe:
    it reads commands on fd 3 and answers on fd 4, each message ending in a NUL): a page can be
    hovered, which --dump-dom cannot do, with no websocket client."""

    def __init__(self, tmp_path):
        commands_r, self.commands = os.pipe()
        self.answers, answers_w = os.pipe()

        def on_fds_3_and_4():
            os.dup2(commands_r, 3)
            os.dup2(answers_w, 4)
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--window-size=1400,900",
             f"--user-data-dir={tmp_path / 'chromium'}", "--remote-debugging-pipe", "about:blank"],
            preexec_fn=on_fds_3_and_4, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(commands_r)
        os.close(answers_w)
        self.sent, self.unread, self.session = 0, b"", None

    def send(self, method, **params):
        self.sent += 1
        message = {"id": self.sent, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.unread:
                chunk = os.read(self.answers, 1 << 16)
                assert chunk, "Chromium closed the DevTools pipe"
                self.unread += chunk
            raw, self.unread = self.unread.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self.sent:
                assert "error" not in answer, answer
                return answer["result"]

    def open(self, url):
        target = self.send("Target.createTarget", url=url)["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def js(self, expression):
        answer = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in answer, answer["exceptionDetails"]
        return answer["result"].get("value")

    def wait_for(self, expression, seconds=60):
        deadline = time.time() + seconds
        while time.time() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.5)
        raise AssertionError(f"the page never gave {expression}:\n{self.js('document.body.innerText')[-3000:]}")

    def close(self):
        self.process.kill()
        self.process.wait()
        os.close(self.commands)
        os.close(self.answers)


def start_ui(uri, repo):
    """`traces ui` for the store at uri, its output a pipe (not a terminal)."""
    (repo / ".claude").mkdir()
    (repo / ".claude" / "settings.json").write_text(json.dumps(
        {"env": {"MLFLOW_TRACKING_URI": uri, "MLFLOW_EXPERIMENT_NAME": "acme/widgets"}}))
    return subprocess.Popen([sys.executable, str(ROOT / "traces.py"), "ui", "--no-browser"], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())


def printed_url(ui):
    """The match of the URL `traces ui` prints once the server answers; then its Ctrl-C line."""
    deadline = time.time() + 120
    while time.time() < deadline:
        line = ui.stdout.readline()
        assert line or ui.poll() is None, ui.stderr.read()
        match = re.search(r"(http://127\.0\.0\.1:(\d+)/#/experiments/(\d+)/traces)", line)
        if match:
            assert "Ctrl-C" in ui.stdout.readline()
            return match
    raise AssertionError("traces ui printed no URL")


def process_group(pgid):
    """The live processes of a process group (a zombie is dead already)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            state, _, group = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(group) == pgid and state != "Z":
            found.append(int(pid))
    return found


def children(pid):
    return [int(child) for task in os.listdir(f"/proc/{pid}/task")
            for child in open(f"/proc/{pid}/task/{task}/children").read().split()]


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed (CI installs chromium)")
def test_ui_serves_the_repositorys_traces_and_stops_on_ctrl_c(store, repo, tmp_path):  # noqa: F811
    info = store["infos"]["acme/widgets"][0]
    ui = start_ui(store["uri"], repo)
    try:
        match = printed_url(ui)
        url, port = match.group(1), int(match.group(2))
        assert match.group(3) == info.experiment_id

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


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP"])
def test_ui_stopped_by_kill_or_a_closed_terminal_leaves_nothing_running(store, repo, how):  # noqa: F811
    """A `kill` (SIGTERM) or a closed terminal (SIGHUP) stops the MLflow UI with all the
    processes it started (uvicorn's workers, the job runners), as Ctrl-C does."""
    ui, server = start_ui(store["uri"], repo), None
    try:
        port = int(printed_url(ui).group(2))
        [server] = children(ui.pid)     # its own process group: Ctrl-C reaches traces ui alone
        assert server in process_group(server) and len(process_group(server)) > 1
        ui.send_signal(getattr(signal, how))
        assert ui.wait(timeout=60) == 0, f"traces ui died of {how} without stopping the server"
        deadline = time.time() + 20
        while process_group(server) and time.time() < deadline:
            time.sleep(0.2)
        assert process_group(server) == [], f"processes of the MLflow UI still run after {how}"
        assert not port_open(port)
    finally:
        if ui.poll() is None:
            ui.kill()
        if server and process_group(server):
            os.killpg(server, signal.SIGKILL)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed (CI installs chromium)")
def test_the_trace_view_shows_the_agent_as_a_tag(mixed, repo, tmp_path):  # noqa: F811
    """A Codex turn opened in the MLflow UI: its tags (shown on hovering "N tags" in the trace
    view) hold agent = codex."""
    [codex] = mixed["codex"]
    ui, browser = start_ui(mixed["uri"], repo), None
    try:
        url = printed_url(ui).group(1)
        browser = DevTools(tmp_path)
        browser.open(f"{url}?selectedEvaluationId={codex.trace_id}")
        tags = "[...document.querySelectorAll('span')].filter(e => /^\\d+ tags$/.test((e.innerText || '').trim())).pop()"
        where = f"(() => {{ const e = {tags}; if (!e) return null; const r = e.getBoundingClientRect(); " \
                "return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        browser.wait_for(where)
        assert "agent\ncodex" not in browser.js("document.body.innerText")
        shown = None
        for _ in range(30):        # the trace view slides in: point at where the label is now
            x, y = browser.js(where)
            browser.send("Input.dispatchMouseEvent", type="mouseMoved", x=0, y=0)
            browser.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
            time.sleep(1)
            shown = browser.js("document.body.innerText")
            if "agent\ncodex" in shown:
                break
        assert "agent\ncodex" in shown, shown[-3000:]
        assert codex.trace_id[3:11] in shown and f"git.branch\n{codex.tags['git.branch']}" in shown
    finally:
        if browser:
            browser.close()
        ui.send_signal(signal.SIGINT)
        ui.wait(timeout=30)
