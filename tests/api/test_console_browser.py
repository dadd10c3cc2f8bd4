"""The console in a real browser: Debian's chromium and chromium-driver, driven by Selenium.

No browser is ever downloaded: the driver's path is given, so Selenium Manager never runs.
``scripts/_setup`` installs both packages with apt-get when they are missing. The screenshot is
written to ``tests/artifacts/console.png`` (a CI artefact; the directory is not committed).
"""

from __future__ import annotations

import logging
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By

from gateway.api import create_app
from gateway.connectors.dvcqg import Service
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from tests.api.conftest import AGENCY, DOSSIER_NO, ApiClient

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PROV = {"Authorization": "Bearer prov-key"}
Make = Callable[..., dict[str, Any]]

pytestmark = pytest.mark.network


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"none of {names} is installed: run scripts/_setup (apt-get install chromium)")


@pytest.fixture
def base_url(service: GatewayService) -> Iterator[str]:
    """The app on a free loopback port, served by uvicorn in a thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(service), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(500):  # uvicorn offers no start event: poll its flag, 10 s at most
        if server.started:
            break
        started.wait(0.02)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[webdriver.Chrome]:
    """Headless Debian chromium through the Debian driver (paths given explicitly)."""
    # Selenium's wire log (DEBUG) repeats every key typed, the operator's API key included:
    # the test's own harness, not the gateway, but the run's logs must hold no secret either.
    wire = logging.getLogger("selenium.webdriver.remote.remote_connection")
    monkeypatch.setattr(wire, "level", logging.INFO)
    options = webdriver.ChromeOptions()
    options.binary_location = _binary("chromium", "chromium-browser")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1280,900")
    driver = webdriver.Chrome(
        service=DriverService(executable_path=_binary("chromedriver")), options=options
    )
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def test_operator_replays_and_discards_in_the_browser(
    base_url: str,
    browser: webdriver.Chrome,
    service: GatewayService,
    portal: FakePortal,
    api: ApiClient,
    make_provincial: Make,
) -> None:
    """Log in, see a dead letter, replay it and see it delivered; discard another with a
    reason and find the discard in the audit trail; save a screenshot."""
    other = f"{AGENCY}-250310-0008"
    ids = []
    for n, no in enumerate((DOSSIER_NO, other)):
        portal.reject(no)
        answer = api.post(
            "/v1/dossiers",
            json=make_provincial(no=no),
            headers={**PROV, "Idempotency-Key": f"b{n}"},
        )
        ids.append(str(answer.json()["delivery_id"]))
    service.flush(Service.DOSSIER, AGENCY)
    portal.clear_faults()

    browser.get(f"{base_url}/console")
    browser.find_element(By.ID, "api_key").send_keys("ops-key")
    browser.find_element(By.ID, "login").click()
    assert browser.find_element(By.ID, "operator").text == "ops"
    # The peers' error rate is of the last minutes: the two refused sends of just now.
    peers = browser.find_element(By.ID, "peers").text
    assert "failed sends (last 15 min)" in peers
    assert "100.0% of" in peers
    browser.find_element(By.LINK_TEXT, "Dead letters").click()
    assert "2 matching" in browser.page_source
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "console-dead-letters.png"))

    browser.find_element(By.LINK_TEXT, ids[0]).click()
    assert browser.find_element(By.ID, "letter-status").text == "dead"
    browser.find_element(By.ID, "replay").click()
    assert "replay: queued" in browser.find_element(By.ID, "notice").text
    service.flush(Service.DOSSIER, AGENCY)
    browser.refresh()
    assert browser.find_element(By.ID, "delivery-state").text == "delivered"
    assert DOSSIER_NO in portal.dossiers

    browser.get(f"{base_url}/console/dead-letters/{ids[1]}")
    browser.find_element(By.ID, "discard-reason").send_keys("duplicate test record")
    browser.find_element(By.ID, "discard").click()
    assert "discard: discarded" in browser.find_element(By.ID, "notice").text
    browser.find_element(By.LINK_TEXT, "Audit trail").click()
    table = browser.find_element(By.ID, "audit").text
    assert "duplicate test record" in table
    assert "discard" in table
    browser.save_screenshot(str(ARTIFACTS / "console-audit.png"))
    assert (ARTIFACTS / "console-audit.png").stat().st_size > 1000
