"""What a user sees of the default study in optuna-dashboard, in a real browser.

The real CLI runs ``optimize`` then ``compare`` on the default ``studies/digits.toml``, whole,
as a newcomer does; the real ``optuna-dashboard`` command serves the storage and artifacts on a
free localhost port, exactly as the CLI's ``see it:`` line says; headless Chromium (Debian's
``chromium`` package, driven by Playwright; nothing downloads a browser) opens the pages at a
laptop's and a desktop's window size, and the tests assert what a person would check: no page
wider than the window, figures coloured by group with one legend entry each (read from the
figures' own data in the page), reference lines labelled apart and inside the plot, the verdict
on the comparison note's first screen, the numbers equal to those computed from the storage.
The screenshots go to ``runs/screenshots/`` (ignored; ``OPTUNA_CLR_SCREENSHOTS`` moves it);
README's come from there.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import io
import math
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

import pytest

from optuna_clr import cli
from optuna_clr.results import compare
from optuna_clr.results import report


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
VIEWPORTS = [(1280, 800), (1920, 1080)]  # a laptop and a desktop screen
NAME = "digits"
METRIC = "iterations to 0.97 validation accuracy"
DEFAULT_STUDY = Path(__file__).resolve().parents[1] / "studies" / "digits.toml"
SCREENSHOTS = Path(
    os.environ.get("OPTUNA_CLR_SCREENSHOTS")
    or Path(__file__).resolve().parents[1] / "runs" / "screenshots"
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
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """optimize + compare of the default study through the CLI, and the dashboard the CLI
    names: its URL, the study ids by name and the working folder."""
    if CHROMIUM is None:
        pytest.skip("no Chromium: install Debian's chromium package (.ci/run's install_browser)")
    pytest.importorskip(
        "playwright.sync_api", reason="pip install playwright (.ci/run's install_browser)"
    )
    import json

    folder = tmp_path_factory.mktemp("browser")
    shutil.copy(DEFAULT_STUDY, folder / "digits.toml")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        for command in ("optimize", "compare"):
            with contextlib.redirect_stdout(out):
                code = cli.main([command, "digits.toml", "--no-progress"])
            assert code == 0, f"optuna-clr {command} exited with {code}:\n{out.getvalue()}"
    line = next(
        x for x in out.getvalue().splitlines() if x.startswith("see it: optuna-dashboard ")
    )
    with _dashboard(folder, line.removeprefix("see it: ")) as url:
        with urllib.request.urlopen(url + "/api/studies", timeout=30) as r:
            ids = {s["study_name"]: s["study_id"] for s in json.load(r)["study_summaries"]}
        yield {"url": url, "ids": ids, "folder": folder}


@pytest.fixture(scope="module")
def browser(site: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(params=VIEWPORTS, ids=lambda v: f"{v[0]}x{v[1]}")
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    width, height = request.param
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(WAIT_MS)
    yield page
    page.close()


def _open(page: Any, site: dict[str, Any], study: str, view: str = "") -> str:
    """Open a study's page and wait until it shows the study; returns the body's text."""
    number = site["ids"][study]
    page.goto(f"{site['url']}/dashboard/studies/{number}{view}")
    page.get_by_text(f"{study} (id={number})").first.wait_for()
    return page.inner_text("body")


def _screenshot(page: Any, name: str, *, full_page: bool = False) -> Path:
    size = page.viewport_size
    path = SCREENSHOTS / f"{size['width']}x{size['height']}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    return path


def _width(page: Any) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


# what each plotly figure of ours holds, read from the page: its traces, shapes, axes, legend
FIGURES_JS = """() => [...document.querySelectorAll('.js-plotly-plot')]
  .filter(gd => (gd.data || []).some(t => t.meta === 'series'))
  .map(gd => {
    const box = e => { const r = e.getBoundingClientRect();
                       return {x: r.x, y: r.y, w: r.width, h: r.height}; };
    const axes = Object.entries(gd._fullLayout).filter(([k]) => /^xaxis\\d*$/.test(k));
    return {
      title: (gd.layout.title && gd.layout.title.text) || '',
      traces: gd.data.map(t => ({
        meta: t.meta, group: t.legendgroup, show: t.showlegend !== false, name: t.name,
        color: t.mode === 'markers' ? t.marker.color : t.line.color})),
      shapes: (gd.layout.shapes || []).map(s => ({x: s.x0, xref: s.xref})),
      axes: Object.fromEntries(axes.map(([k, a]) => [k, {range: a.range, type: a.type}])),
      legend: [...gd.querySelectorAll('.legendtext')].map(e => ({text: e.textContent, ...box(e)})),
      box: box(gd),
    };
  })"""


def _figures(page: Any, count: int) -> list[dict[str, Any]]:
    """Our figures on the page (those with ``meta="series"`` traces), once ``count`` are drawn."""
    page.wait_for_function(f"({FIGURES_JS})().length >= {count}")
    return page.evaluate(FIGURES_JS)


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


def _inside(a: dict[str, float], box: dict[str, float]) -> bool:
    return (
        a["x"] >= box["x"] - 1
        and a["y"] >= box["y"] - 1
        and a["x"] + a["w"] <= box["x"] + box["w"] + 1
        and a["y"] + a["h"] <= box["y"] + box["h"] + 1
    )


def _check_figure(figure: dict[str, Any]) -> None:
    """What a person checks on a figure: one colour and one legend entry per group; the
    reference lines drawn inside the x range and their labels apart, inside the figure."""
    series = [t for t in figure["traces"] if t["meta"] == "series"]
    groups: dict[str, set[str]] = {}
    shown: dict[str, int] = {}
    for t in series:
        groups.setdefault(t["group"], set()).add(t["color"])
        shown[t["group"]] = shown.get(t["group"], 0) + t["show"]
    title = figure["title"]
    assert all(len(c) == 1 for c in groups.values()), (title, groups)
    assert all(n <= 1 for n in shown.values()), (title, shown)
    references = [t["name"] for t in figure["traces"] if t["meta"] == "reference"]
    assert len(set(references)) == len(references), (title, references)
    for shape in figure["shapes"]:
        if "domain" not in shape["xref"]:  # a vertical line, at x in data units
            axis = figure["axes"]["xaxis" + shape["xref"][1:]]
            x = math.log10(shape["x"]) if axis["type"] == "log" else shape["x"]
            low, high = axis["range"]
            assert low <= x <= high, (title, shape, axis)
    legend = figure["legend"]
    assert {e["text"] for e in legend} >= set(references), (title, legend)
    for i, a in enumerate(legend):
        assert _inside(a, figure["box"]), (title, a, figure["box"])
        assert not any(_overlap(a, b) for b in legend[i + 1 :]), (title, legend)


def test_the_study_page_names_the_metric_and_draws_its_figures_as_a_person_reads_them(
    page: Any, site: Any
) -> None:
    _open(page, site, NAME)
    page.get_by_text(METRIC).first.wait_for()  # the history's axis says what the value counts
    assert "Objective 0" not in page.inner_text("body")
    figures = _figures(page, 2)
    titles = [f["title"] for f in figures]
    assert any(re.match(r"digits, the 5 best trials", t) for t in titles), titles
    assert any(t.startswith("LR range test: clear") for t in titles), titles
    for figure in figures:
        _check_figure(figure)
    best = next(f for f in figures if "best trials" in f["title"])
    colors = {t["group"]: t["color"] for t in best["traces"] if t["meta"] == "series"}
    assert len(set(colors.values())) == len(colors) == 5  # a colour per trial
    assert _width(page) <= page.viewport_size["width"]
    _screenshot(page, "dashboard_study.png")
    _screenshot(page, "dashboard_study_full.png", full_page=True)
    # the study's own figures, its best trial and its attrs, as README shows them
    page.evaluate(
        "[...document.querySelectorAll('.js-plotly-plot')].find(gd => "
        "((gd.layout.title || {}).text || '').includes('best trials')).scrollIntoView()"
    )
    page.evaluate("window.scrollBy(0, -80)")  # from under the app bar
    _screenshot(page, "dashboard_study_figures.png")


def _trial(page: Any, site: Any, number: int) -> tuple[str, float]:
    """A trial's state and value, as its page in the trial list shows them."""
    _open(page, site, NAME, f"/trials?numbers={number}")
    page.get_by_text(re.compile(rf"Trial {number} \(trial_id=\d+\)")).first.wait_for()
    text = page.inner_text("body")
    state = re.search(rf"Trial {number} \(trial_id=\d+\)\s+(Complete|Pruned)", text)
    value = re.search(r"\nValue\s+([-0-9.e+]+)", text)
    assert state and value, text[:2000]
    return state.group(1), float(value.group(1))


def test_every_trial_page_fits_the_window_and_a_pruned_trial_is_never_the_best(
    page: Any, site: Any
) -> None:
    text = _open(page, site, NAME, "/trials")
    states = dict(re.findall(r"Trial (\d+)\s+(Complete|Pruned|Fail)", text))
    assert "Pruned" in states.values() and "Complete" in states.values(), states
    width = page.viewport_size["width"]
    shown = {}
    for number in sorted(map(int, states)):
        shown[number] = _trial(page, site, number)
        assert _width(page) <= width, f"trial {number}'s page is {_width(page)} px wide"
    pruned = [v for s, v in shown.values() if s == "Pruned"]
    completed = [v for s, v in shown.values() if s == "Complete"]
    assert min(pruned) > max(completed), shown
    best = min((v, n) for n, (s, v) in shown.items() if s == "Complete")[1]
    _trial(page, site, best)
    # the trial's note leads with its short schedule, its outcome and its test accuracy
    page.get_by_text(re.compile(r"reached 0\.97 at \d+; .*test accuracy 0\.\d{4}")).wait_for()
    _screenshot(page, "dashboard_trial.png")


def test_the_comparison_note_shows_the_verdict_on_its_first_screen(page: Any, site: Any) -> None:
    _open(page, site, f"{NAME}-cyclical", "/note")
    verdict = page.get_by_text(
        re.compile(
            r"^Verdict: (inconclusive|undecided|no practical difference|cyclical fast|fixed fast)"
        )
    )
    verdict.first.wait_for()
    box = verdict.first.bounding_box()
    assert box["y"] + box["height"] <= page.viewport_size["height"], box
    assert page.locator("h1").count() == 1  # one title per note
    assert _width(page) <= page.viewport_size["width"]
    _screenshot(page, "dashboard_comparison_note.png")
    # the cycles the note gives are those computed from the seeds that reached the target
    stored = compare.stored_comparison(_storage(site), NAME)
    assert stored is not None
    comparison = stored[0]
    cyclical = comparison.arm("cyclical")
    expected = report._cycles(cyclical.cycles_to_target(comparison.target_accuracy))
    row = page.locator("tr", has_text=re.compile(r"^cyclical \(trial")).first
    cells = row.locator("td").all_inner_texts()
    header = page.locator("tr", has_text="cycles to target").first.locator("th").all_inner_texts()
    assert cells[header.index("cycles to target")] == expected, (header, cells)
    # and every figure the note links loads
    images = page.locator("img")
    for i in range(images.count()):  # each figure loads from the artifact store, once in view
        images.nth(i).scroll_into_view_if_needed()
    assert images.count() >= 5
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")


def _storage(site: Any) -> Any:
    from optuna_clr.study.storage import open_storage

    return open_storage(f"sqlite:///{site['folder'] / 'optuna_clr.db'}")


def test_the_retrained_seeds_read_as_seeds_with_the_comparison_figures(
    page: Any, site: Any
) -> None:
    text = _open(page, site, f"{NAME}-retrain", "/trials")
    assert len(re.findall(r"Trial \d+\s+Complete", text)) == 2 * 5  # 2 arms x 5 seeds
    _open(page, site, f"{NAME}-retrain")
    page.get_by_text(METRIC).first.wait_for()
    page.get_by_text("not a search").first.wait_for()  # what the study is, in its attrs
    page.get_by_text(re.compile(r"^cyclical against fixed: speed-up")).first.wait_for()
    figures = _figures(page, 5)
    titles = [f["title"] for f in figures]
    assert any("what the verdict reads" in t for t in titles), titles
    for figure in figures:
        _check_figure(figure)
    curves = next(f for f in figures if "every seed" in f["title"])
    legend = [t["name"] for t in curves["traces"] if t["meta"] == "series" and t["show"]]
    assert legend == ["fixed (5 seeds)", "cyclical (5 seeds)"], legend
    assert _width(page) <= page.viewport_size["width"]
    _screenshot(page, "dashboard_retrain.png", full_page=True)


def test_the_compare_page_and_the_other_views_fit_the_window(page: Any, site: Any) -> None:
    ids = site["ids"]
    for study, view in [(NAME, "/analytics"), (NAME, "/note"), (f"{NAME}-fixed", "")]:
        _open(page, site, study, view)
        page.wait_for_timeout(500)  # let late content lay out; the assertion reads the result
        assert _width(page) <= page.viewport_size["width"], (study, view)
    arms = f"{ids[NAME + '-fixed']},{ids[NAME + '-cyclical']}"
    page.goto(f"{site['url']}/dashboard/compare-studies?ids={arms}")
    page.get_by_text(f"{NAME}-cyclical").first.wait_for()
    assert _width(page) <= page.viewport_size["width"]
    _screenshot(page, "dashboard_compare.png")
