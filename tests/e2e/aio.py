"""Running a coroutine from a sync test while Playwright's sync API may hold the main loop."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def run(coroutine: Any, timeout: float = 120) -> Any:
    # A thread of its own: Playwright's sync API (the session's `browser` fixture) keeps an
    # event loop running on the main thread, where asyncio.run() would refuse to start.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coroutine, timeout)).result()
