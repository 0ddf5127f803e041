"""What optuna-dashboard shows of an optuna-clr study, with no extra step (issue 6).

The real CLI (``optimize`` then ``compare``) fills a real SQLite storage and artifact folder in
a temporary working folder; the real dashboard app (``optuna_dashboard.wsgi``) serves them on a
free localhost port through a real WSGI server; the tests read the dashboard's own HTTP API as
its web page does: ``/api/studies``, ``/api/studies/<study_id>`` (trials with params,
intermediate values, user attrs and artifacts; the study's user attrs, artifacts and note) and
the artifact downloads ``/artifacts/<study_id>/<artifact_id>`` and
``/artifacts/<study_id>/<trial_id>/<artifact_id>``.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import io
import json
import re
import shlex
import threading
from typing import Any
import urllib.error
import urllib.request
from wsgiref.simple_server import make_server
from wsgiref.simple_server import WSGIRequestHandler
from wsgiref.simple_server import WSGIServer

from conftest import tiny_study
from optuna.artifacts import FileSystemArtifactStore
import pytest

from optuna_clr import cli
from optuna_clr.search.space import FAMILY_PARAMS


optuna_dashboard = pytest.importorskip("optuna_dashboard")

pytestmark = pytest.mark.slow

PNG = b"\x89PNG\r\n\x1a\n"
NAME = "dash"
STUDY = tiny_study(
    NAME,
    n_trials=4,
    range_epochs=2,
    more="""
[compare]
n_trials = 3
seeds = 2
""",
)
FIGURES = {
    "curves",
    "schedules",
    "iterations",
    "speedup",
    "range_test",
}  # the comparison report's figures


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@contextlib.contextmanager
def _serve(app: Any) -> Iterator[str]:
    """``app`` on a free localhost port, in a background thread; yields the base URL."""
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class Dashboard:
    """HTTP client of a running optuna-dashboard."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ids = {
            s["study_name"]: s["study_id"]
            for s in self.get_json("/api/studies")["study_summaries"]
        }

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=60) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def get_json(self, path: str) -> Any:
        status, headers, body = self.get(path)
        assert status == 200, f"GET {path}: HTTP {status}: {body[:300]!r}"
        assert headers["Content-Type"].startswith("application/json")
        return json.loads(body)

    def study(self, name: str) -> dict[str, Any]:
        return self.get_json(f"/api/studies/{self.ids[name]}")

    def png(self, path: str) -> bytes:
        status, headers, body = self.get(path)
        assert status == 200, f"GET {path}: HTTP {status}: {body[:300]!r}"
        assert headers["Content-Type"] == "image/png", headers
        assert body.startswith(PNG), f"GET {path} is not a PNG: {body[:16]!r}"
        return body


def _attrs(serialized: dict[str, Any]) -> dict[str, str]:
    """User attrs as the dashboard shows them: key -> the displayed string."""
    return {a["key"]: a["value"] for a in serialized["user_attrs"]}


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """optimize + compare through the CLI, then ``optuna-dashboard <storage> --artifact-dir <dir>``
    exactly as the CLI tells the user to run it."""
    folder = tmp_path_factory.mktemp("dashboard")
    (folder / "dash.toml").write_text(STUDY)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        out = io.StringIO()
        for command in ("optimize", "compare", "report"):  # report reattaches everything once more
            flags = ["--no-progress"] if command != "report" else []  # report has no progress bars
            with contextlib.redirect_stdout(out):
                code = cli.main([command, "dash.toml", *flags])
            assert code == 0, f"optuna-clr {command} exited with {code}:\n{out.getvalue()}"
        # the command the CLI prints for the user, taken word for word
        line = next(
            line
            for line in out.getvalue().splitlines()
            if line.startswith("see it: optuna-dashboard ")
        )
        storage_url, flag, artifact_dir = shlex.split(line)[3:6]
        assert flag == "--artifact-dir"
        # what `optuna-dashboard <storage_url> --artifact-dir <artifact_dir>` builds
        # (optuna_dashboard/_cli.py)
        app = optuna_dashboard.wsgi(
            storage_url, artifact_store=FileSystemArtifactStore(artifact_dir)
        )
        with _serve(app) as url:
            yield Dashboard(url)


def test_the_study_list_has_the_study_its_arms_and_its_seeds(dashboard: Dashboard) -> None:
    assert {NAME, f"{NAME}-fixed", f"{NAME}-cyclical", f"{NAME}-retrain"} <= set(dashboard.ids)


def test_the_retrained_seeds_are_trials_with_their_configuration(dashboard: Dashboard) -> None:
    trials = dashboard.study(f"{NAME}-retrain")["trials"]
    runs = sorted((_attrs(t)["configuration"], int(_attrs(t)["seed"])) for t in trials)
    assert runs == [("cyclical", 1), ("cyclical", 2), ("fixed", 1), ("fixed", 2)]
    assert all(t["state"] == "Complete" and t["intermediate_values"] for t in trials)
    # a seed of a configuration, as long as it trained: not "the best trial" of a search
    for t in trials:
        params = {p["name"]: p["param_external_value"] for p in t["params"]}
        assert params == {"configuration": _attrs(t)["configuration"], "seed": _attrs(t)["seed"]}
        assert t["datetime_complete"] > t["datetime_start"], t
    # what the study is and the answer, where its page shows them (the user attrs box)
    attrs = _attrs(dashboard.study(f"{NAME}-retrain"))
    assert "not a search" in attrs["about"] and "one seed's luck" in attrs["about"]
    assert re.match(r"cyclical against fixed: speed-up \d\.\d\dx, ", attrs["verdict"])
    for arm in ("fixed", "cyclical"):
        assert re.search(r"of 2 seeds reached 0\.95$", attrs[f"arm: {arm}"]), attrs
    # the arm studies, whose tuning histories optuna-dashboard's compare page draws, say it too
    for arm in ("fixed", "cyclical"):
        assert _attrs(dashboard.study(f"{NAME}-{arm}"))["verdict"] == attrs["verdict"]


@pytest.mark.parametrize("name", [NAME, f"{NAME}-fixed", f"{NAME}-cyclical"])
def test_each_trial_shows_family_params_error_curve_and_attrs(
    dashboard: Dashboard, name: str
) -> None:
    detail = dashboard.study(name)
    trained = [t for t in detail["trials"] if t["state"] in ("Complete", "Pruned")]
    assert trained, f"no trained trials in {name}: {[t['state'] for t in detail['trials']]}"
    families = set()
    for t in trained:
        params = {p["name"]: p["param_external_value"] for p in t["params"]}
        family = params.get("family")
        assert family in FAMILY_PARAMS, params
        families.add(family)
        assert set(params) == {"family", *FAMILY_PARAMS[family]}, (family, params)

        attrs = _attrs(t)
        assert {
            "schedule",
            "reached",
            "best_accuracy",
            "family",
            "lr_min",
            "lr_max",
            "budget",
            "target_accuracy",
        } <= set(attrs), sorted(attrs)
        # short, never cut at 1,024; the schedule in its short form (the page does not wrap)
        assert all(len(v) < 200 for v in attrs.values()), attrs
        assert attrs["schedule"].startswith(f"{family}(") and len(attrs["schedule"]) < 80
        assert attrs["family"] == family
        assert attrs["reached"] in ("True", "False")
        # the reports are in the objective's unit: budget * (1 + target - accuracy)
        budget, target = float(attrs["budget"]), float(attrs["target_accuracy"])
        reports = [(v["step"], v["value"]) for v in t["intermediate_values"]]
        assert reports, f"trial {t['number']} of {name} reported nothing"
        accuracies = [1 + target - v / budget for _, v in reports]
        assert float(attrs["best_accuracy"]) == round(max(accuracies), 4)  # as read
        if t["state"] == "Complete" and attrs["reached"] == "True":
            assert t["values"] == [reports[-1][0]]  # iterations to target: the last report's step
            assert t["values"][0] <= budget
        else:
            assert t["values"][0] > budget  # censored, or pruned: ranks below every reached trial
    if name.endswith("-fixed"):
        assert families == {"fixed"}
    assert detail["has_intermediate_values"] is True


def _schedule_plots(dashboard: Dashboard, name: str) -> None:
    detail = dashboard.study(name)
    study_id = dashboard.ids[name]
    trained = [t for t in detail["trials"] if t["state"] in ("Complete", "Pruned")]
    for t in trained:
        plots = [a for a in t["artifacts"] if a["filename"] == f"schedule_trial{t['number']}.png"]
        assert len(plots) == 1, f"trial {t['number']} of {name}: artifacts {t['artifacts']}"
        assert plots[0]["mimetype"] == "image/png"
        dashboard.png(f"/artifacts/{study_id}/{t['trial_id']}/{plots[0]['artifact_id']}")


def test_each_trial_of_optimize_has_its_schedule_plot(dashboard: Dashboard) -> None:
    _schedule_plots(dashboard, NAME)


@pytest.mark.parametrize("arm", ["fixed", "cyclical"])
def test_each_trial_of_a_compare_arm_has_its_schedule_plot(dashboard: Dashboard, arm: str) -> None:
    _schedule_plots(dashboard, f"{NAME}-{arm}")


def test_the_study_shows_the_range_test_plot(dashboard: Dashboard) -> None:
    detail = dashboard.study(NAME)
    attrs = _attrs(detail)
    assert "range_test" not in attrs  # the record is an artifact, whole
    assert "range_test.json" in {a["filename"] for a in detail["artifacts"]}
    assert "range_test_plot" not in attrs  # a bare id means nothing to a person
    plots = [a for a in detail["artifacts"] if a["filename"] == "range_test.png"]
    assert len(plots) == 1 and plots[0]["mimetype"] == "image/png", detail["artifacts"]
    artifact_id = plots[0]["artifact_id"]
    dashboard.png(f"/artifacts/{dashboard.ids[NAME]}/{artifact_id}")


@pytest.mark.parametrize("arm", ["fixed", "cyclical"])
def test_each_compare_arm_has_the_report_as_note_with_working_figures(
    dashboard: Dashboard, arm: str
) -> None:
    name = f"{NAME}-{arm}"
    study_id = dashboard.ids[name]
    detail = dashboard.study(name)
    note = detail["note"]["body"]
    assert detail["note"]["version"] >= 1
    title = f"# {NAME}: CLR versus a tuned fixed LR\n\n*the {arm} arm of the comparison*"
    assert note.startswith(title)
    assert re.findall(r"^# ", note, re.M) == ["# "]  # one H1
    assert "**Verdict: " in note and "speed-up" in note and "t-interval" in note

    artifacts = {a["artifact_id"]: a for a in detail["artifacts"]}
    assert {f"{f}.png" for f in FIGURES} <= {a["filename"] for a in artifacts.values()}
    pngs = [a for a in artifacts.values() if a["filename"].endswith(".png")]
    assert all(a["mimetype"] == "image/png" for a in pngs)
    # the comparison record, whole, as a JSON artifact; no user attr holds it
    assert "comparison.json" in {a["filename"] for a in artifacts.values()}
    assert "comparison" not in _attrs(detail)

    links = dict(re.findall(r"!\[([^\]]*)\]\(([^)\s]+)\)", note))
    assert set(links) == FIGURES, links
    for figure, link in links.items():
        found = re.fullmatch(rf"/artifacts/{study_id}/([0-9a-fA-F-]+)", link)
        assert found, f"{figure}: {link} is not an artifact URL of study {study_id}"
        assert artifacts[found.group(1)]["filename"] == f"{figure}.png"
        dashboard.png(link)


def test_the_optimize_study_has_its_summary_as_note(dashboard: Dashboard) -> None:
    detail = dashboard.study(NAME)
    note = detail["note"]["body"]
    assert f"# {NAME}" in note and "| family | trials (pruned) |" in note
    # the summary's figures: the best trials' curves and the range test, as this study's artifacts
    links = dict(re.findall(r"!\[([^\]]*)\]\(([^)\s]+)\)", note))
    assert set(links) == {"best_trials", "range_test"}, links
    for figure, link in links.items():
        assert re.fullmatch(rf"/artifacts/{dashboard.ids[NAME]}/[0-9a-fA-F-]+", link), (
            figure,
            link,
        )
        dashboard.png(link)


@pytest.mark.parametrize("name", [NAME, f"{NAME}-fixed", f"{NAME}-cyclical"])
def test_reattaching_reports_does_not_pile_up_artifacts(dashboard: Dashboard, name: str) -> None:
    names = [a["filename"] for a in dashboard.study(name)["artifacts"]]
    assert len(names) == len(set(names)), names


def test_an_unknown_artifact_is_not_found(dashboard: Dashboard) -> None:
    # the downloads above are real lookups, not a route that answers anything
    status, _, _ = dashboard.get(
        f"/artifacts/{dashboard.ids[NAME]}/00000000-0000-0000-0000-000000000000"
    )
    assert status == 404
