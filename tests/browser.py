"""Headless Chromium driven over the DevTools protocol (CDP), with the websockets client.

Enough of CDP for end-to-end tests of the demo page: open a tab, evaluate
JavaScript, wait for a condition, take a screenshot, close the tab.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from typing import Any

from websockets.sync.client import connect

from support import LogWatcher, free_port

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1000,700"]


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("Chromium is not installed (make test installs it)")


class Browser:
    def __init__(self) -> None:
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="pyb-chromium")
        self.process = subprocess.Popen(
            [chromium_binary(), *FLAGS, f"--user-data-dir={self.profile}",
             f"--remote-debugging-port={self.port}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log = LogWatcher(self.process.stderr)
        self.log.wait_for(r"DevTools listening on", timeout=30)

    def open(self, url: str) -> "Tab":
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?{url}", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            target = json.load(response)
        return Tab(target["webSocketDebuggerUrl"], target["id"], self)

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


class Tab:
    def __init__(self, ws_url: str, target_id: str, browser: Browser) -> None:
        self.target_id = target_id
        self.browser = browser
        self._stack = contextlib.ExitStack()
        self._ws = self._stack.enter_context(connect(ws_url, max_size=None, open_timeout=10))
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._ws.recv(timeout=30))
            if reply.get("id") == call_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, condition: str, timeout: float = 15.0) -> Any:
        """Wait in the page (requestAnimationFrame polling) until `condition` is truthy."""
        script = f"""new Promise((resolve, reject) => {{
            const end = Date.now() + {int(timeout * 1000)};
            const check = () => {{
                let value; try {{ value = ({condition}); }} catch (e) {{ value = undefined; }}
                if (value) resolve(value);
                else if (Date.now() > end) reject(new Error('timed out waiting for: ' + {json.dumps(condition)}));
                else setTimeout(check, 20);
            }};
            check();
        }})"""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.evaluate(script)
            except AssertionError as exc:  # the page navigated (a redirect) while we waited
                if "context" not in str(exc).lower() or time.monotonic() > deadline:
                    raise

    def screenshot(self, path: str) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self) -> None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.browser.port}/json/close/{self.target_id}", timeout=10).close()
        finally:
            self._stack.close()
