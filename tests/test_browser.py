"""What a user sees of an optuna-clr study in optuna-dashboard, in a real browser (issue 15).

The real CLI (``optimize`` then ``compare``) fills a real SQLite storage and artifact folder;
the real ``optuna-dashboard`` command serves them on a free localhost port, exactly as the CLI
tells the user to start it; headless Chromium (Debian's ``chromium`` package, driven by
Playwright; nothing downloads a browser) opens the pages at 1600x1200 and the tests assert on
what is rendered. Set ``OPTUNA_CLR_SCREENSHOTS=<folder>`` to keep the screenshots (README's
come from ``docs/img``).
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import io
import os
from pathlib import Path
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from typing import Any
import urllib.request

from conftest import tiny_study
import pytest

from optuna_clr import cli


pytestmark = [pytest.mark.slow, pytest.mark.processes]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTH, HEIGHT = 1600, 1200
NAME = "seen"
METRIC = "iterations to 0.95 validation accuracy"
STUDY = tiny_study(
    NAME,
    n_trials=8,
    range_epochs=2,
    more="""
[compare]
n_trials = 4
seeds = 2
""",
)
WAIT_MS = 60_000  # a page is given this long to render; the tests wait for content, not time


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _dashboard(folder: Path, line: str) -> Iterator[str]:
    """The ``optuna-dashboard ...`` command the CLI printed, run as printed (plus a free
    port) in ``folder``; yields its URL once it answers."""
    words = shlex.split(line)
    executable = Path(sys.executable).with_name("optuna-dashboard")
    port = _free_port()
    command = [str(executable), *words[1:], "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/api/studies", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{command} did not answer: {server.communicate()[1][-2000:]!r}")
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int]]]:
    """optimize + compare through the CLI; the dashboard's URL and the study ids by name."""
    if CHROMIUM is None:
        pytest.skip("no Chromium: install Debian's chromium package (.ci/run's install_browser)")
    pytest.importorskip(
        "playwright.sync_api", reason="pip install playwright (.ci/run's install_browser)"
    )
    import json

    folder = tmp_path_factory.mktemp("browser")
    (folder / "seen.toml").write_text(STUDY)
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        for command in ("optimize", "compare"):
            with contextlib.redirect_stdout(out):
                code = cli.main([command, "seen.toml", "--no-progress"])
            assert code == 0, f"optuna-clr {command} exited with {code}:\n{out.getvalue()}"
    line = next(
        x for x in out.getvalue().splitlines() if x.startswith("see it: optuna-dashboard ")
    )
    with _dashboard(folder, line.removeprefix("see it: ")) as url:
        with urllib.request.urlopen(url + "/api/studies", timeout=30) as r:
            ids = {s["study_name"]: s["study_id"] for s in json.load(r)["study_summaries"]}
        yield url, ids


@pytest.fixture(scope="module")
def browser(site: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
    page.set_default_timeout(WAIT_MS)
    yield page
    page.close()


def _open(page: Any, site: tuple[str, dict[str, int]], study: str, view: str = "") -> str:
    """Open a study's page and wait until it shows the study; returns the body's text."""
    url, ids = site
    page.goto(f"{url}/dashboard/studies/{ids[study]}{view}")
    page.get_by_text(f"{study} (id={ids[study]})").first.wait_for()
    return page.inner_text("body")


def _screenshot(page: Any, name: str, *, full_page: bool = False) -> None:
    folder = os.environ.get("OPTUNA_CLR_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=full_page)


def test_the_study_page_names_the_metric_and_shows_plotly_figures(page: Any, site: Any) -> None:
    _open(page, site, NAME)
    page.locator(".js-plotly-plot").first.wait_for()
    # the history plot's axis and the metric selector say what the value counts
    page.get_by_text(METRIC).first.wait_for()
    assert "Objective 0" not in page.inner_text("body")
    # the study's own interactive figures (optuna_dashboard.save_plotly_graph_object)
    page.get_by_text(re.compile(r"the \d+ best trials: accuracy and LR")).first.wait_for()
    page.get_by_text("LR range test: clear").first.wait_for()
    assert page.locator(".js-plotly-plot").count() >= 4
    _screenshot(page, "dashboard_study.png")


def _trial(page: Any, site: Any, study: str, number: int) -> tuple[str, float]:
    """A trial's state and value, as its page in the trial list shows them."""
    text = _open(page, site, study, f"/trials?numbers={number}")
    page.get_by_text(re.compile(rf"Trial {number} \(trial_id=\d+\)")).first.wait_for()
    text = page.inner_text("body")
    state = re.search(rf"Trial {number} \(trial_id=\d+\)\s+(Complete|Pruned)", text)
    value = re.search(r"\nValue\s+([-0-9.e+]+)", text)
    assert state and value, text[:2000]
    return state.group(1), float(value.group(1))


def test_a_pruned_trial_shows_a_value_above_every_completed_one(page: Any, site: Any) -> None:
    text = _open(page, site, NAME, "/trials")
    states = dict(re.findall(r"Trial (\d+)\s+(Complete|Pruned|Fail)", text))
    assert "Pruned" in states.values() and "Complete" in states.values(), states
    shown = {int(n): _trial(page, site, NAME, int(n)) for n in states}
    pruned = [v for s, v in shown.values() if s == "Pruned"]
    completed = [v for s, v in shown.values() if s == "Complete"]
    assert min(pruned) > max(completed), shown
    # and a trial's page is no wider than the window: no curve or record blows it up
    for number in shown:
        _trial(page, site, NAME, number)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= WIDTH, f"trial {number}'s page is {width} px wide in a {WIDTH} px window"
    _screenshot(page, "dashboard_trial.png")


def test_the_comparison_note_says_its_verdict(page: Any, site: Any) -> None:
    _open(page, site, f"{NAME}-cyclical", "/note")
    verdict = page.get_by_text(
        re.compile(r"^Verdict: (inconclusive|cyclical faster|fixed faster)")
    )
    verdict.first.wait_for()
    assert page.locator("h1").count() == 1  # one title per note
    images = page.locator("img")
    images.first.wait_for()
    for i in range(images.count()):  # each figure loads from the artifact store, once in view
        images.nth(i).scroll_into_view_if_needed()
    assert images.count() >= 4
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.locator("h1").first.scroll_into_view_if_needed()  # the note scrolls in its own pane
    _screenshot(page, "dashboard_comparison_note.png")


def test_the_retrained_seeds_are_a_study_with_the_metric_name(page: Any, site: Any) -> None:
    text = _open(page, site, f"{NAME}-retrain", "/trials")
    assert len(re.findall(r"Trial \d+\s+Complete", text)) == 2 * 2  # 2 arms x 2 seeds
    _open(page, site, f"{NAME}-retrain")
    page.get_by_text(METRIC).first.wait_for()
