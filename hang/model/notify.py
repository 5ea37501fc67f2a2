"""A level-triggered wake-up shared by producers and their consumers."""

from __future__ import annotations

import asyncio


class Notify:
    """Wakes every waiter whenever the producer changes state."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake everyone waiting now; later waiters wait for the next change."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self) -> None:
        """Wait for the next change."""
        await self._event.wait()
