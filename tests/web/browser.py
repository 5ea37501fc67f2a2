"""Headless Chromium for the tests, driven through ``driver.mjs`` (npm playwright-core) over stdin/stdout."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "hang" / "relay" / "web"
DRIVER = Path(__file__).with_name("driver.mjs")
SETUP_HINT = ("run `bash .ci/setup` (it installs chromium, runs `npm ci` in hang/relay/web and builds the "
              "player bundles with `npm run build`)")


def chromium_path() -> str | None:
    """The Chromium binary: ``$CHROMIUM``, else Debian's ``chromium`` on PATH."""
    if "CHROMIUM" in os.environ:
        return shutil.which(os.environ["CHROMIUM"])
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_browser() -> str:
    """Fail (never skip) with a hint to run the set-up when something the browser tests need is missing."""
    missing = []
    browser = chromium_path()
    if browser is None:
        missing.append("chromium (apt-get install chromium)")
    if shutil.which("node") is None:
        missing.append("node")
    if not (WEB / "node_modules" / "playwright-core" / "package.json").is_file():
        missing.append("hang/relay/web/node_modules (npm ci)")
    for bundle in ("moq-watch.js", "moq-publish.js"):
        if not (WEB / "dist" / bundle).is_file():
            missing.append(f"hang/relay/web/dist/{bundle} (npm run build)")
    if missing:
        pytest.fail(f"browser tests need {', '.join(missing)}: {SETUP_HINT}", pytrace=False)
    assert browser is not None
    return browser


class Browser:
    """One Chromium with named pages; ``console`` collects every page's console messages."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.console: list[dict[str, str]] = []
        self.version = ""
        self._ids = 0
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def launch(cls) -> AsyncIterator[Browser]:
        chromium = require_browser()
        process = await asyncio.create_subprocess_exec(
            "node", str(DRIVER), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=dict(os.environ, CHROMIUM=chromium), limit=1 << 24)
        browser = cls(process)
        try:
            browser.version = await asyncio.wait_for(asyncio.shield(browser._ready), 30)
            yield browser
        finally:
            await browser._quit()

    def logs(self, page: str | None = None) -> list[str]:
        """The text of the console messages (of one page, or of all)."""
        return [m["text"] for m in self.console if page is None or m["page"] == page]

    def errors(self) -> list[str]:
        """Uncaught exceptions in any page."""
        return [m["text"] for m in self.console if m["type"] == "pageerror"]

    async def call(self, op: str, timeout: float = 30, **args: Any) -> Any:
        """Run one driver command and return its value; a failed command raises ``AssertionError``."""
        assert self.process.stdin is not None
        self._ids += 1
        reply = self._waiting[self._ids] = asyncio.get_running_loop().create_future()
        self.process.stdin.write(json.dumps({"id": self._ids, "op": op, **args}).encode() + b"\n")
        await self.process.stdin.drain()
        return await asyncio.wait_for(reply, timeout)

    async def open(self, page: str, url: str) -> None:
        await self.call("open", page=page, url=url)

    async def eval(self, page: str, expr: str) -> Any:
        return await self.call("eval", page=page, expr=expr)

    async def wait(self, page: str, expr: str, timeout: float = 15) -> Any:
        """Wait until ``expr`` is truthy in the page; on time-out, fail with the page's console."""
        try:
            return await self.call("wait", timeout=timeout + 5, page=page, expr=expr, timeout_ms=timeout * 1000)
        except AssertionError as exc:
            tail = "\n".join(self.logs(page)[-30:])
            raise AssertionError(f"{exc}\nwaiting for: {expr}\nconsole of {page}:\n{tail}") from None

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            message = json.loads(line)
            if "console" in message:
                self.console.append(message["console"])
            elif "ready" in message:
                self._ready.set_result(message["ready"]["browser"])
            elif (reply := self._waiting.pop(message["id"], None)) is not None and not reply.done():
                if message["ok"]:
                    reply.set_result(message["value"])
                else:
                    reply.set_exception(AssertionError(f"browser: {message['error']}"))
        assert self.process.stderr is not None
        error = AssertionError(f"the browser driver exited: {(await self.process.stderr.read()).decode()[-3000:]}")
        for future in [self._ready, *self._waiting.values()]:
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: only the waiting caller reports it

    async def _quit(self) -> None:
        with contextlib.suppress(AssertionError, TimeoutError, ConnectionError):
            if self.process.returncode is None:
                await self.call("quit", timeout=10)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), 10)
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        assert self.process.stdin is not None
        self.process.stdin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._reader, 5)
