"""The run report in a real browser: headless Chromium loads it with every image decoded and no
console error, and a full-page screenshot is kept in tests/artifacts/ to look at.

Chromium and its driver are Debian packages (`chromium`, `chromium-driver`): the session
installs them when missing and skips, saying why, only when they cannot be installed. Selenium
talks to /usr/bin/chromedriver directly, so Selenium Manager downloads nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.output_dir import OutputLayout

from conftest import REPO_ROOT, ReportedRun
from support.system_packages import why_missing

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PACKAGES = ["chromium", "chromium-driver"]
ARTIFACTS_DIR = REPO_ROOT / "tests" / "artifacts"  # kept after the run; in .gitignore
WINDOW_WIDTH = 1200
# No network, no background services, a profile of its own: the page alone decides what loads.
CHROMIUM_ARGUMENTS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium_installed(pytestconfig: pytest.Config) -> None:
    reason = why_missing(PACKAGES, [str(CHROMIUM), str(CHROMEDRIVER)], pytestconfig)
    if reason:
        pytest.skip(reason)


@pytest.fixture
def browser(chromium_installed: None, tmp_path: Path) -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = f"--user-data-dir={tmp_path / 'profile'}"  # a fresh profile: nothing cached, nothing synced
    for argument in [*CHROMIUM_ARGUMENTS, profile, f"--window-size={WINDOW_WIDTH},900"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def test_the_report_loads_offline_with_every_image_and_no_console_error(browser, reported_run: ReportedRun):
    page = OutputLayout(reported_run.output_dir).run_file(reported_run.run_id, ".html")
    browser.get(page.as_uri())

    images = browser.execute_script(
        "return Array.from(document.images, image => [image.alt, image.complete, image.naturalWidth])"
    )
    assert len(images) > 100  # charts, 80 sample digits, the misclassified ones
    assert [alt for alt, complete, width in images if not complete or width == 0] == []
    severe = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []

    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS_DIR / "report.png"
    screenshot.write_bytes(full_page_png(browser))
    assert screenshot.stat().st_size > 10_000


def full_page_png(browser) -> bytes:
    """The whole page, not just the window, through the DevTools protocol."""
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    return base64.b64decode(shot["data"])
