"""End-to-end fixtures: the local runtime as a real subprocess (`python -m roomcast_local`
on free loopback ports), and a real Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from roomcast_local.harness import RunningRuntime, start_runtime

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def local_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    """The whole template running locally, shared by the session.

    Attributes: ws_url, http_url (demo page base), admin_api_url, admin_key,
    receiver_url (None without the reference receiver), moto_url, management_url,
    log_path; helpers: token(user_id, name=None, **claims), create_room(name, room_id=None,
    **fields), admin(method, path, body) -> (status, json), connections(), log_text().
    """
    logs = tmp_path_factory.mktemp("local-runtime")
    runtime = start_runtime("--quiet", log_path=logs / "runtime.log")
    try:
        yield runtime
    finally:
        code = runtime.stop()
        if code != 0:
            print(runtime.log_text()[-4000:])


@pytest.fixture
def runtime_factory(tmp_path: Path) -> Iterator[Callable[..., RunningRuntime]]:
    """Start extra runtimes with other flags, e.g. factory("--env", "WEBHOOK_SCHEDULE=1,1",
    "--idle-timeout", "5") or factory(template=path); each is stopped at teardown."""
    started: list[RunningRuntime] = []

    def factory(*args: str, template: Path | None = None) -> RunningRuntime:
        runtime = start_runtime(
            "--quiet", *args, template=template, log_path=tmp_path / f"runtime-{len(started)}.log"
        )
        started.append(runtime)
        return runtime

    yield factory
    for runtime in started:
        runtime.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright's sync API."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (scripts/ensure-chromium installs it)")
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()
