"""Open a local HTML file in headless Chromium and report what happened: the tests' browser, no extra package.

Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: it reads commands on fd 3 and
writes replies and events on fd 4, each a JSON message ended by a NUL byte), so no websocket client and no
browser driver is needed. `visit(path, expressions)` loads the page, evaluates the given JavaScript expressions,
takes a screenshot and returns them with every request the page made (URL), console errors, uncaught exceptions
and error log entries. Host names resolve nowhere (`--host-resolver-rules`), so a page that tried the network
could not reach it, and the request would still be recorded. Debian's package is `chromium`; `BROWSER_LOG=1`
shows Chromium's own log on stderr.
"""

from __future__ import annotations

import io
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def high_fd(fd: int) -> int:
    """The same pipe end as a descriptor numbered 10 or more; the original is closed."""
    import fcntl

    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


@dataclass
class Visit:
    screenshot: bytes
    values: dict
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, error log entries


class Browser:
    def __init__(self, binary: str, profile: Path):
        to_child, self._to_browser = os.pipe()
        self._from_browser, from_child = os.pipe()
        # the child's ends above fd 10, so that moving them to 3 and 4 (below) never overwrites one with the other
        to_child, from_child = (high_fd(fd) for fd in (to_child, from_child))
        flags = [
            "--headless",
            "--remote-debugging-pipe",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--window-size=1280,900",
            f"--user-data-dir={profile}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            flags.append("--no-sandbox")  # root (CI) cannot use the setuid sandbox
        shell = f'exec "$0" "$@" 3<&{to_child} 4>&{from_child} {to_child}<&- {from_child}>&-'
        self.proc = subprocess.Popen(
            ["bash", "-c", shell, binary, *flags, "about:blank"],
            pass_fds=(to_child, from_child),
            stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("BROWSER_LOG") else subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium closed the pipe (exit {self.proc.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self._next_id += 1
        message: dict = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, since: int = 0, timeout: float = 30) -> dict:
        """The first event `method` from the `since`-th event on, waiting for it if need be."""
        deadline = time.monotonic() + timeout
        for event in self.events[since:]:
            if event.get("method") == method:
                return event
        while True:
            event = self._read_message(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


def errors_in(events: list[dict]) -> list[str]:
    out = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            out.append("exception: " + params["exceptionDetails"].get("text", ""))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            out.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
    return out


def visit(path: Path, expressions: dict[str, str], timeout: float = 60) -> Visit:
    """Load `path`, evaluate each expression (name -> JavaScript), take a screenshot."""
    import base64

    binary = chromium()
    if binary is None:
        raise RuntimeError("no chromium")
    url = Path(path).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        browser = Browser(binary, Path(profile))
        try:
            target = browser.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
            session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Network", "Runtime", "Log"):
                browser.send(f"{domain}.enable", session=session)
            before = len(browser.events)
            browser.send("Page.navigate", {"url": url}, session=session)
            browser.wait_for("Page.loadEventFired", since=before, timeout=timeout)
            values = {
                name: browser.send("Runtime.evaluate", {"expression": js, "returnByValue": True}, session=session)[
                    "result"
                ].get("value")
                for name, js in expressions.items()
            }
            shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session, timeout=timeout)
            events = list(browser.events)
        finally:
            browser.close()
    requests = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
    return Visit(base64.b64decode(shot["data"]), values, requests, errors_in(events))


def is_blank(png: bytes) -> bool:
    """True when the screenshot is one colour (or nearly: under 0.5% of pixels differ from the most common)."""
    import matplotlib.image
    import numpy as np

    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3].reshape(-1, 3)
    _, counts = np.unique((pixels * 255).round().astype(np.uint8), axis=0, return_counts=True)
    return counts.max() > 0.995 * len(pixels)
