"""Headless Chromium driven over the DevTools protocol (a websocket), for the browser check."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from pathlib import Path
import shutil
from typing import Any

import aiohttp

from .processes import ManagedProcess, wait_for

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)
WINDOW = (1280, 1000)

# Every text node and form value of the page, through open shadow roots (HA's frontend is made of
# web components, so document.body.innerText sees almost nothing).
DEEP_TEXT_JS = """
(() => {
  const parts = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) {
      const text = node.textContent.trim();
      if (text) parts.push(text);
      return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE && node.nodeType !== Node.DOCUMENT_FRAGMENT_NODE
        && node.nodeType !== Node.DOCUMENT_NODE) return;
    if (node.localName === 'style' || node.localName === 'script') return;
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.childNodes) walk(child);
  };
  walk(document);
  return parts.join('\\n');
})()
"""


def chromium_path() -> str:
    """The Chromium binary (Debian's package, installed into the environment by run-in-env)."""
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    raise FileNotFoundError("chromium is not installed (scripts/run-in-env installs it)")


def start_chromium(profile_dir: Path, log: Path, cwd: Path) -> ManagedProcess:
    """Start headless Chromium with a fresh profile and a DevTools port chosen by the OS."""
    argv = [
        chromium_path(),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile_dir}",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--hide-scrollbars",
        "--mute-audio",
        "about:blank",
    ]
    return ManagedProcess("chromium", argv, log, cwd)


def devtools_port(profile_dir: Path, process: ManagedProcess, timeout: float = 30) -> int:
    """The DevTools port Chromium chose (it writes it to DevToolsActivePort)."""
    active = profile_dir / "DevToolsActivePort"
    text = wait_for(
        lambda: active.read_text() if active.exists() and active.read_text().strip() else None,
        timeout,
        "Chromium's DevTools port",
        process,
    )
    return int(text.splitlines()[0])


class Page:
    """One page target: commands, a few event waits, evaluation and screenshots."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        """Use ``open_page``."""
        self._socket = socket
        self._ids = itertools.count(1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command and return its result (events are not subscribed to, and skipped)."""
        message_id = next(self._ids)
        await self._socket.send_json({"id": message_id, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self._socket.receive_json(), 30)
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    async def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript in the page; return its value (JSON-able)."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def navigate(self, url: str) -> None:
        """Load ``url`` (returns once navigation has committed)."""
        answer = await self.send("Page.navigate", url=url)
        if answer.get("errorText"):
            raise RuntimeError(f"navigating to {url}: {answer['errorText']}")

    async def deep_text(self) -> str:
        """The page's text, shadow roots included."""
        text = await self.evaluate(DEEP_TEXT_JS)
        return str(text or "")

    async def screenshot(self, path: Path) -> Path:
        """Save a PNG of the viewport once HA's launch screen has faded out."""
        for _ in range(100):  # at most ~10 s; the fade takes well under a second
            if not await self.evaluate("!!document.getElementById('ha-launch-screen')"):
                break
            await asyncio.sleep(0.1)
        shot = await self.send("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
        return path

    async def close(self) -> None:
        """Close the DevTools connection."""
        await self._socket.close()


async def open_page(session: aiohttp.ClientSession, port: int) -> Page:
    """Attach to the page Chromium opened at start."""
    async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
        targets = json.loads(await response.text())
    page = next(t for t in targets if t["type"] == "page")
    socket = await session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
    tab = Page(socket)
    await tab.send("Page.enable")  # addScriptToEvaluateOnNewDocument needs it
    await tab.send(
        "Emulation.setDeviceMetricsOverride",
        width=WINDOW[0],
        height=WINDOW[1],
        deviceScaleFactor=1,
        mobile=False,
    )
    return tab
