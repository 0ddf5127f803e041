"""The ``optuna-clr`` command: range-test, optimize, compare, report.

Each subcommand takes a study file (``studies/*.toml``) and overrides; this module only parses
arguments and calls the library. ``optuna-clr <command> --help`` explains every option.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from collections.abc import Sequence
import contextlib
import json
import os
from pathlib import Path
import shlex
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
from types import FrameType
from typing import Any
from typing import cast

import optuna

from optuna_clr import records
from optuna_clr import schedules
from optuna_clr.results import compare
from optuna_clr.results import dashboard
from optuna_clr.results import plots
from optuna_clr.results import report
from optuna_clr.results.statistics import SequentialDesign
from optuna_clr.search.range_test import lr_range_test
from optuna_clr.search.range_test import RangeTestResult
from optuna_clr.study import notes
from optuna_clr.study.fingerprint import ensure_fingerprint
from optuna_clr.study.fingerprint import ensure_ours
from optuna_clr.study.fingerprint import ensure_same_choices
from optuna_clr.study.runner import Interrupted
from optuna_clr.study.runner import optimize
from optuna_clr.study.storage import check_url
from optuna_clr.study.storage import DEFAULT_URL
from optuna_clr.study.storage import is_journal
from optuna_clr.study.storage import local_path
from optuna_clr.study.storage import open_storage
from optuna_clr.study.storage import redact
from optuna_clr.study.storage import STORAGE_ENV
from optuna_clr.study.storage import StorageError
from optuna_clr.study.studyfile import Baseline
from optuna_clr.study.studyfile import StudyFile
from optuna_clr.study.studyfile import StudyFileError
from optuna_clr.training import settings
from optuna_clr.training.settings import neutral
from optuna_clr.training.tasks import DataError


class WorkerError(RuntimeError):
    """A worker process started by ``--engine processes`` failed."""


class OutputError(ValueError):
    """An output folder (``--out``, ``--artifact-dir``) cannot be written."""


def _at_least(low: int) -> Any:
    """An argparse type: an integer ``>= low``, so a bad count is refused before anything runs."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def _url(text: str) -> str:
    """An argparse type: a storage URL that is not empty (an empty one would silently mean the
    default file)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"must be a storage URL, got an empty one; leave --storage out for {DEFAULT_URL}"
        )
    return text


def _common(p: argparse.ArgumentParser) -> None:
    """The options every subcommand uses: the study file, where the study lives, where output
    goes."""
    p.add_argument("study_file", type=Path, help="the study file (TOML), e.g. studies/digits.toml")
    p.add_argument(
        "--storage",
        type=_url,
        help=f"Optuna storage URL: sqlite:///file.db (default ${STORAGE_ENV}, else "
        f"{DEFAULT_URL}), postgresql://user:password@host/db (many machines), "
        f"journal:///file.log (many processes); ${STORAGE_ENV} keeps a password out of the "
        "command line and `ps`",
    )
    p.add_argument(
        "--study-name", help="study name in the storage (default: [study] name from the file)"
    )
    p.add_argument(
        "--artifact-dir",
        type=Path,
        help="folder for figures Optuna stores as artifacts (default: optuna_clr_artifacts "
        "beside a SQLite or journal file, else in the working folder); give the same to "
        "optuna-dashboard --artifact-dir",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("reports"),
        help="folder for reports and figures (default: %(default)s)",
    )


def _training(p: argparse.ArgumentParser, *, seed_help: str) -> None:
    """The options of subcommands that train (report only reads the storage)."""
    p.add_argument(
        "--device",
        help=f"training device: {settings.doc('device')} (default: from the file)",
    )
    p.add_argument(
        "--data-dir",
        help="folder with the data set in torchvision's layout "
        "(default: [task] data_dir, then $OPTUNA_CLR_DATA)",
    )
    p.add_argument("--seed", type=_at_least(0), help=seed_help)
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars (default: shown when stderr is a terminal)",
    )


def _workers(p: argparse.ArgumentParser, *, n_trials_help: str) -> None:
    p.add_argument("--n-trials", type=_at_least(0), help=n_trials_help)
    p.add_argument(
        "--parallel",
        type=_at_least(1),
        default=1,
        help="train this many trials at once on the device (default: %(default)s)",
    )
    p.add_argument(
        "--engine",
        choices=("auto", "vmap", "processes"),
        default="auto",
        help="how --parallel shares the device: vmap stacks the models in one process "
        "(small nets on a GPU), processes starts that many worker processes on the same storage, "
        "each with its share of the CPU threads and its own sampler seed (wider nets; and on a "
        "CPU, where it measured fastest); auto (default): vmap on CUDA, processes on a CPU. "
        "compare always stacks with vmap",
    )
    p.add_argument(
        "--heartbeat",
        type=_at_least(0),
        default=10,
        help="seconds between a running trial's heartbeats; a trial silent for --grace seconds is "
        "failed and retried by another worker (0: off; default %(default)s)",
    )
    p.add_argument(
        "--grace",
        type=_at_least(1),
        default=60,
        help="seconds without a heartbeat before a trial counts as dead (default %(default)s)",
    )


SEED_HELP = (
    "seed for the validation split, initial weights and batch order "
    "(default: [study] seed from the file)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optuna-clr",
        description="Find the learning-rate schedule that reaches a target accuracy in the fewest "
        "iterations.",
        epilog="Inspect results with: optuna-dashboard sqlite:///optuna_clr.db "
        "--artifact-dir optuna_clr_artifacts",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    p = sub.add_parser(
        "range-test",
        help="run the LR range test and store its bounds in the study",
        description="Train while the LR ramps from [range_test] min_lr to max_lr; print and store "
        "the suggested base_lr, best_lr and max_lr, and save the plot. Runs even where the file "
        "sets [range_test] enabled = false.",
    )
    _common(p)
    _training(p, seed_help=SEED_HELP + "; --repeats runs the seeds after it too")
    p.add_argument(
        "--repeats",
        type=_at_least(1),
        help="seeds to run; suggestions are their medians (default: [range_test] repeats)",
    )

    p = sub.add_parser(
        "optimize",
        help="search the schedule space (resumes a study that exists)",
        description="Run the range test if the study has none, make it the sampler's prior (or, "
        "for tpe and random, narrow the space with it), and run trials. Rerunning adds "
        "--n-trials more trials to the same study; trials already done stay.",
    )
    _common(p)
    _training(p, seed_help=SEED_HELP + ", and of the sampler")
    _workers(p, n_trials_help="trials this run adds to the study (default: [study] n_trials)")
    p.add_argument(
        "--worker", type=int, help=argparse.SUPPRESS
    )  # set by --engine processes for the processes it starts

    p = sub.add_parser(
        "compare",
        help="CLR versus a tuned fixed LR, with seeds and a bootstrap interval",
        description="Tune a fixed-LR arm and a cyclical arm with the same trial budget, retrain "
        "each winner (and the file's baselines) with several seeds, and write a report with "
        "figures into --out, also attached to both studies for optuna-dashboard.",
    )
    _common(p)
    _training(
        p,
        seed_help=SEED_HELP
        + "; the arms are tuned with it and each winner is retrained with the --seeds "
        "seeds after it",
    )
    _workers(
        p,
        n_trials_help="trials per arm, in all: an arm that has them runs no more "
        "(default: [compare] n_trials, else [study] n_trials)",
    )
    p.add_argument(
        "--seeds",
        type=_at_least(1),
        help="seeds for retraining each winner (default: [compare] seeds)",
    )

    p = sub.add_parser(
        "report",
        help="write a study's report from the storage (no training)",
        description="Summarise the study (best trial per family, curves, range test, trials.csv), "
        "and its comparison if compare ran; attach the figures and the report to the studies.",
    )
    _common(p)
    return parser


def _progress(args: argparse.Namespace) -> bool:
    return not args.no_progress and sys.stderr.isatty()


def _study_file(args: argparse.Namespace) -> StudyFile:
    """The study file with the command line's overrides; for compare, --n-trials is the arms'
    budget ([compare] n_trials), which every shipped file sets."""
    sf = StudyFile.load(args.study_file)
    n_trials = getattr(args, "n_trials", None)
    sf = sf.with_overrides(
        study__name=args.study_name,
        study__seed=getattr(args, "seed", None),
        study__n_trials=n_trials if args.command != "compare" else None,
        compare__n_trials=n_trials if args.command == "compare" else None,
        training__device=getattr(args, "device", None),
        task__data_dir=getattr(args, "data_dir", None),
        range_test__repeats=getattr(args, "repeats", None),
        compare__seeds=getattr(args, "seeds", None),
    )
    if args.command != "report":
        _check_device(sf)
    return sf


def _check_device(sf: StudyFile) -> None:
    """A device this machine lacks is a one-line error now, not a traceback at the first trial."""
    import torch

    device = sf.training["device"]
    missing = (device.startswith("cuda") and not torch.cuda.is_available()) or (
        device == "mps" and not torch.backends.mps.is_available()
    )
    if missing:
        raise StudyFileError(
            f"{sf.source}: [training] device: {device!r} (from the file or --device) is not "
            "available on this machine; use --device cpu, or auto to take CUDA where there is one"
        )


def _artifact_dir(args: argparse.Namespace) -> Path:
    if args.artifact_dir:
        return args.artifact_dir
    path = local_path(args.storage)
    return (
        path.parent / "optuna_clr_artifacts" if path is not None else Path("optuna_clr_artifacts")
    )


def _dashboard_command(args: argparse.Namespace) -> str:
    """The optuna-dashboard command for this storage: a journal is given as its file path (the
    dashboard does not read journal:// URLs), anything else as the URL, password hidden."""
    path = local_path(args.storage) if is_journal(args.storage) else None
    storage = str(path) if path is not None else redact(args.storage)
    return (
        f"optuna-dashboard {shlex.quote(storage)} "
        f"--artifact-dir {shlex.quote(str(_artifact_dir(args)))}"
    )


def _writable(folder: Path, flag: str) -> None:
    """Create ``folder`` if needed and write a probe file there: ``os.access`` says yes to root
    on read-only file systems, and a folder that cannot be written should fail now, not after
    every trial has trained."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OutputError(
            f"{flag} {folder}: cannot write there ({error.strerror or error}); "
            f"pick a folder you can write to with {flag}"
        ) from None


def _outputs(args: argparse.Namespace) -> Any:
    """Check that ``--out`` and ``--artifact-dir`` can be written; the artifact store."""
    _writable(args.out, "--out")
    _writable(_artifact_dir(args), "--artifact-dir")
    return dashboard.artifact_store(_artifact_dir(args))


def _storage(args: argparse.Namespace) -> optuna.storages.BaseStorage:
    path = local_path(args.storage)
    if args.command == "report" and path is not None and not path.exists():
        raise StorageError(
            f"no storage at {path} ({redact(args.storage)}): run optimize or compare first, "
            "or give the one they wrote with --storage"
        )
    beat = getattr(args, "heartbeat", 0) or None
    return open_storage(
        args.storage,
        heartbeat_interval=beat,
        grace_period=getattr(args, "grace", None) if beat else None,
    )


def _open_study(sf: StudyFile, storage: Any, name: str | None = None) -> optuna.Study:
    study = optuna.create_study(
        study_name=name or sf.study["name"],
        storage=storage,
        direction="minimize",
        pruner=sf.make_pruner(),
        load_if_exists=True,
    )
    if study.direction != optuna.study.StudyDirection.MINIMIZE:
        raise StudyFileError(
            f"study {study.study_name!r} in the storage maximizes; optuna_clr studies minimize "
            "iterations to target: pick another --study-name"
        )
    ensure_ours(study)
    return study


RANGE_TEST_REQUEST = (
    "request"  # the key, in a stored range test's settings, of what the file asked for
)


def range_test_request(sf: StudyFile) -> dict[str, Any]:
    """Everything in the file that decides the range test's outcome, resolved as the test
    resolves it (max_lr from the space, mode from the metric), as JSON reads it back. Where it
    runs (device, data folder) and how many seeds (``repeats``, compared on its own) are left
    out."""
    kwargs = sf.range_test_kwargs()
    request = {k: v for k, v in kwargs.items() if k not in ("device", "data_dir", "repeats")}
    request["task"] = str(kwargs["task"]).lower().replace("_", "-").replace("cifar-10", "cifar10")
    request["validation"] = sf.task["validation"]
    request["mode"] = kwargs["mode"] or (
        "linear" if kwargs["metric"] == "accuracy" else "exponential"
    )
    return json.loads(json.dumps(request))


def _range_test_changes(stored: RangeTestResult, sf: StudyFile) -> list[str]:
    """How the stored test differs from what the file asks for. A setting it did not record
    counts as different, unless the file leaves it off (None, false, 0): a test stored before
    that setting existed ran without it."""
    asked = stored.settings.get(RANGE_TEST_REQUEST)
    if not isinstance(asked, dict):
        return ["its settings were not recorded in full"]
    changes = [
        f"{key} {asked.get(key, 'unrecorded')!r} -> {value!r}"
        for key, value in range_test_request(sf).items()
        if (asked[key] != value if key in asked else not neutral(value))
    ]
    if asked.get("repeats", 0) < sf.range_test["repeats"]:
        changes.append(f"repeats {asked.get('repeats')!r} -> {sf.range_test['repeats']!r}")
    return changes


def _say(text: str) -> None:
    """Print ``text`` within 119 columns, its later lines indented."""
    print(textwrap.fill(text, 119, subsequent_indent="  "), flush=True)


def ensure_range_test(
    sf: StudyFile,
    study: optuna.Study,
    store: Any,
    *,
    rerun: bool = False,
    show_progress_bar: bool = False,
) -> RangeTestResult | None:
    """The study's range test: the stored one if it was run with the file's settings (a stored
    test with more seeds will do), else a new run."""
    if not sf.range_test["enabled"]:
        return None
    kwargs = sf.range_test_kwargs()
    stored = RangeTestResult.from_study(study)
    if stored is not None and not rerun:
        changes = _range_test_changes(stored, sf)
        if not changes:
            _say(
                f"range test: using the one stored in study {study.study_name!r}: {stored.message}"
            )
            return stored
        _say(
            f"range test: the one stored in study {study.study_name!r} does not match the file "
            f"({'; '.join(changes)}): running it again"
        )
    _say(
        f"range test: {kwargs['task']} / {kwargs['model']}, "
        f"LR {kwargs['min_lr']:g} to {kwargs['max_lr']:g} ..."
    )
    result = lr_range_test(**kwargs, show_progress_bar=show_progress_bar)
    result.settings[RANGE_TEST_REQUEST] = {**range_test_request(sf), "repeats": kwargs["repeats"]}
    dashboard.attach_range_test(study, result, store)
    _say(f"range test: {'clear' if result.clear else 'NOT CLEAR'}: {result.message}")
    return result


def clear_bounds(result: RangeTestResult | None) -> RangeTestResult | None:
    """The range test when its bounds can narrow the space and centre the prior, else None.
    An unclear test (a max_lr that is only a lower bound, say) would steer the search wrong, so
    the search then keeps the file's ranges and uses TPE."""
    if result is None or result.clear:
        return result
    _say(
        "range test: not clear, so the space keeps the study file's ranges and the sampler is "
        "TPE; rerun `optuna-clr range-test` over a wider LR range or for longer to narrow it"
    )
    return None


def _print_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> None:
    print("\n".join(report.text_table(rows, columns)))


def cmd_range_test(args: argparse.Namespace) -> int:
    sf = _study_file(args).with_overrides(range_test__enabled=True)
    check_url(args.storage)
    sf.make_objective()  # the data loaded and checked before anything is created
    store = _outputs(args)
    study = _open_study(sf, _storage(args))
    result = ensure_range_test(sf, study, store, rerun=True, show_progress_bar=_progress(args))
    assert result is not None
    folder = args.out / report.folder_name(study.study_name)
    folder.mkdir(parents=True, exist_ok=True)
    plots.plot_range_test(result).savefig(folder / "range_test.png", dpi=100)
    for key in ("base_lr", "best_lr", "max_lr"):
        spread = (result.spread or {}).get(key)
        extra = (
            f"  (seeds: {', '.join(f'{v:.4g}' for v in spread['values'] if v is not None)})"
            if spread
            else ""
        )
        value = getattr(result, key)
        print(f"  {key:8s} {value:.4g}{extra}" if value is not None else f"  {key:8s} -")
    print(f"plot: {folder / 'range_test.png'}")
    return 0


def _training_setup(args: argparse.Namespace) -> tuple[StudyFile, bool, Any, Any, Any]:
    """What optimize and compare both start from: the study file with the command line's
    overrides, progress bars or not, the storage, the artifact store and the objective."""
    sf = _study_file(args)
    progress = _progress(args)
    check_url(args.storage)
    # the data is loaded and checked before anything is created: no empty storage or folders
    # are left behind by a mistake in it
    objective = sf.make_objective(show_progress_bar=progress and args.parallel == 1)
    store = _outputs(args)
    objective.artifact_store = store
    storage = _storage(args)
    return sf, progress, storage, store, objective


def cmd_optimize(args: argparse.Namespace) -> int:
    sf, progress, storage, store, objective = _training_setup(args)
    study = _open_study(sf, storage)
    note = ensure_fingerprint(study, objective.fingerprint())  # before the range test trains
    notes.name_metric(study, objective)
    if note and args.worker is None:
        print(note)
    prior = clear_bounds(ensure_range_test(sf, study, store, show_progress_bar=progress))
    space = sf.make_space(objective)
    if prior is not None and space.outside(prior) and args.worker is None:
        print(f"range test: {space.outside(prior)}")
    # The prior sampler keeps the file's ranges (a wrong test cannot cut the optimum out).
    if prior is not None and sf.range_test["narrow"] and sf.study["sampler"] != "prior":
        space = space.narrow(prior, margin=sf.range_test["margin"])
    study.sampler = sf.make_sampler(prior, parallel=args.parallel, **_worker_sampler(sf, args))
    ensure_same_choices(study, space.distributions)
    objective.space = space
    study.set_user_attr("space", space.to_dict())
    records.save(study, "study_file", sf.to_dict(), artifact_store=store)
    n_trials = sf.study["n_trials"]
    before = len(study.trials)
    print(
        f"study {study.study_name!r} in {redact(args.storage)}: {before} trials so far, "
        f"running {n_trials} more",
        flush=True,
    )
    engine = args.engine
    if engine == "auto":
        engine = "vmap" if objective.device.type == "cuda" else "processes"
    if engine == "processes" and args.parallel > 1:
        _run_processes(args, sf, n_trials)
    else:
        optimize(
            study, objective, n_trials=n_trials, parallel=args.parallel, show_progress_bar=progress
        )
    if args.worker is not None:
        return 0  # the process that started this worker reports once they are all done
    _summary(study, args)
    if study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        folder = report.write_study_report(
            study, args.out / report.folder_name(study.study_name)
        ).parent
        # the summary as the study's dashboard note, with its interactive figures
        dashboard.attach(study, folder, store, figures=dashboard.study_figures(study))
        print(f"report: {folder / 'report.md'}")
    return 0


def _worker_sampler(sf: StudyFile, args: argparse.Namespace) -> dict[str, Any]:
    """A worker of --engine processes samples with its own seed, ``seed * 1000 + i`` modulo
    2**32: with one seed, every worker proposes the same values. Only the sampler's seed
    differs: ``--seed`` would also move the validation split, which all trials of a study must
    share. Its TPE uses the constant liar, since the other workers' trials are running
    meanwhile."""
    if args.worker is None:
        return {}
    return {"seed": (sf.study["seed"] * 1000 + args.worker) % 2**32, "other_workers": True}


def _run_processes(args: argparse.Namespace, sf: StudyFile, n_trials: int) -> None:
    """--engine processes: that many workers on the same storage, sharing the trials."""
    k = args.parallel
    shares = [n_trials // k + (i < n_trials % k) for i in range(k)]
    command = [
        sys.executable, "-m", "optuna_clr.cli", "optimize", str(args.study_file),
        "--study-name", sf.study["name"], "--no-progress",
        "--heartbeat", str(args.heartbeat), "--grace", str(args.grace),
        "--artifact-dir", str(_artifact_dir(args)), "--out", str(args.out),
    ]  # fmt: skip
    options = (("--device", args.device), ("--data-dir", args.data_dir), ("--seed", args.seed))
    for flag, value in options:
        if value is not None:
            command += [flag, str(value)]
    # the URL through the environment, which only its user can read: any user sees argv in `ps`
    env = {**os.environ, STORAGE_ENV: args.storage}
    # each worker gets its share of the CPU threads: oversubscribed, they run slower than one
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // k)))
    workers: list[subprocess.Popen] = []
    try:
        for i, n in enumerate(shares):
            if n:  # own session: a terminal's Ctrl-C reaches this process, which passes it on
                worker = command + ["--n-trials", str(n), "--worker", str(i)]
                workers.append(
                    subprocess.Popen(
                        worker,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        env=env,
                        start_new_session=True,
                    )
                )
        codes = [w.wait() for w in workers]
    except BaseException:  # SIGINT, SIGTERM...: no worker trains on
        _stop_workers(workers)
        raise
    failed = [code for code in codes if code != 0]
    if failed:
        raise WorkerError(
            f"{len(failed)} of {len(workers)} worker processes failed (exit codes {failed}); "
            "their errors are above. The trials they finished are kept: fix the cause and run the "
            "same command again, or use --parallel 1 (or --engine vmap) to train in this process"
        )


def _stop_workers(workers: list[subprocess.Popen]) -> None:
    """Pass an interrupt on to the workers still running, and wait until each has failed and
    queued again the trials it was running. As SIGTERM, whatever this process got: a worker
    stops for it as for SIGINT, and one still starting up (before its handlers) dies quietly
    instead of with a KeyboardInterrupt traceback."""
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait()


def _summary(study: optuna.Study, args: argparse.Namespace) -> None:
    rows = report.family_rows(study)
    if all(r["value"] == "-" for r in rows):
        print("no completed trials yet")
        return
    print()
    _print_table(
        rows,
        [
            ("family", "family"),
            ("trials", "trials"),
            ("pruned", "pruned"),
            ("to target", "value"),
            ("trial", "trial"),
            ("test acc", "test_accuracy"),
            ("schedule", "schedule"),
        ],
    )
    print()
    for line in report.family_notes(study):
        print(textwrap.fill(line, 119))
    print(f"\n{_best_line(study)}")
    print(f"see it: {_dashboard_command(args)}")


def _best_line(study: optuna.Study) -> str:
    """The best trial in a line; a best trial that never reached the target (its value is
    censored, above the budget) says so, since then no trial did."""
    best = study.best_trial
    attrs = best.user_attrs
    unit, target = attrs.get("unit", "iterations"), attrs.get("target_accuracy")
    if attrs.get("reached", True):
        what = ""
        exact = records.trial_schedule(best)
        if exact is not None:
            schedule = schedules.from_dict(exact)
            effective = schedule.effective(report.trained(best))
            what = f" ({schedule.family}{'' if effective is schedule else ', in effect '}"
            what += f"{'' if effective is schedule else effective.label()})"
        return (
            f"best: trial {best.number}{what}, "
            f"{report.format_value(cast(float, best.value), unit)} {unit} "
            f"to {target} validation accuracy"
        )
    accuracy = attrs.get("best_accuracy")
    return (
        f"best: trial {best.number} did not reach {target} validation accuracy "
        f"(no trial did; it came closest, at {accuracy:.4f}): raise [training] max_iterations "
        "or lower target_accuracy"
    )


def cmd_compare(args: argparse.Namespace) -> int:
    sf, progress, storage, store, objective = _training_setup(args)
    name = sf.study["name"]
    home = _open_study(sf, storage)
    note = ensure_fingerprint(home, objective.fingerprint())  # before the range test trains
    if note:
        print(note)
    range_test = ensure_range_test(sf, home, store, show_progress_bar=progress)
    prior = clear_bounds(range_test)
    c = sf.compare
    fixed_space = sf.make_space(objective, families=["fixed"], lr=c["fixed_lr"])
    # one arm for the cyclical families together, or with per_family one arm per family
    groups = [[f] for f in c["families"]] if c["per_family"] else [c["families"]]
    arms = {
        (g[0] if c["per_family"] else "cyclical"): sf.make_space(objective, families=g)
        for g in groups
    }
    for arm, arm_space in {"fixed": fixed_space, **arms}.items():
        if prior is not None and arm_space.outside(prior):
            print(f"range test, {arm} arm: {arm_space.outside(prior)}")
    # The prior sampler keeps the file's ranges (a wrong test cannot cut the optimum out).
    if prior is not None and sf.range_test["narrow"] and sf.study["sampler"] != "prior":
        margin = sf.range_test["margin"]
        fixed_space = fixed_space if c["fixed_lr"] else fixed_space.narrow(prior, margin=margin)
        arms = {arm: space.narrow(prior, margin=margin) for arm, space in arms.items()}
    parallel = args.parallel
    if parallel > 1 and args.engine == "processes":
        print(
            "compare stacks its parallel trials with the vmap engine; "
            "--engine processes applies to optimize only"
        )
    # seeds in rounds until decided, up to max_seeds; one round where it is not set
    design = (
        SequentialDesign(
            first=c["seeds"],
            max_seeds=c["max_seeds"] or c["seeds"],
            margin=c["margin"],
            max_compute=c["max_compute"],
        )
        if c["seeds"] >= 2
        else None
    )
    seeds = compare.retrain_seeds(sf.study["seed"], c["max_seeds"] or c["seeds"])
    n_trials = c["n_trials"] if c["n_trials"] is not None else sf.study["n_trials"]
    comparison = compare.compare(
        name=name,
        storage=storage,
        objective=objective,
        fixed_space=fixed_space,
        cyclical_space=arms.get("cyclical"),
        family_spaces=arms if c["per_family"] else None,
        make_sampler=lambda arm: sf.make_sampler(prior, parallel=parallel),
        make_pruner=sf.make_pruner,
        n_trials=n_trials,
        seeds=seeds,
        tuning_seed=sf.study["seed"],
        baselines=_baselines(sf, prior),
        range_test=range_test,
        parallel=parallel,
        settings={
            "study file": str(args.study_file),
            "trials per arm": n_trials,
            "task": sf.task["name"],
            "model": sf.training["model"],
            "optimizer": sf.training["optimizer"],
            "batch size": sf.training["batch_size"],
            "storage": redact(args.storage),
        },
        progress=_say,
        show_progress_bar=progress,
        artifact_store=store,
        design=design,
    )
    path = _write_comparison(args, storage, store, comparison, range_test)
    print()
    print("\n".join(report.terminal_summary(comparison)))
    print(f"\nreport: {path}")
    print(f"see it: {_dashboard_command(args)}")
    return 0


def _baselines(sf: StudyFile, prior: RangeTestResult | None) -> dict[str, Any]:
    """The file's baselines, and with ``[compare] one_cycle`` fastai's 1cycle from the range
    test (:meth:`RangeTestResult.one_cycle`) over the budget."""
    baselines = dict(sf.baselines)
    if sf.compare["one_cycle"]:
        if prior is None or prior.max_lr is None:
            _say("compare: no 1cycle baseline: it takes max_lr from a clear range test")
        else:
            total = sf.training["max_iterations"]
            baselines["one_cycle"] = Baseline(prior.one_cycle(total))
    return baselines


def _write_comparison(
    args: argparse.Namespace, storage: Any, store: Any, comparison: Any, range_test: Any
) -> Path:
    """The comparison's report, on the dashboard too; study ``<name>``'s summary, when it has
    trials of its own, says the verdict. Returns the report's path."""
    folder = args.out / report.folder_name(comparison.name, "-compare")
    path = report.write_report(comparison, folder, range_test=range_test)
    dashboard.attach_comparison(comparison, storage, folder, store, range_test=range_test)
    home = _load_if_any(storage, comparison.name)
    if home is not None and home.trials:
        home_folder = args.out / report.folder_name(comparison.name)
        report.write_study_report(home, home_folder, comparison=comparison)
        dashboard.attach(home, home_folder, store, figures=dashboard.study_figures(home))
    return path


def cmd_report(args: argparse.Namespace) -> int:
    sf = _study_file(args)
    storage = _storage(args)
    store = _outputs(args)
    name = sf.study["name"]
    written = []
    study = _load_if_any(storage, name)
    stored = compare.stored_comparison(storage, name)
    if stored is not None:  # study <name>'s summary too, with the verdict
        written.append(_write_comparison(args, storage, store, *stored))
    if study is not None and study.trials:
        folder = args.out / report.folder_name(name)
        if stored is None:
            report.write_study_report(study, folder)
            dashboard.attach(study, folder, store, figures=dashboard.study_figures(study))
        written.insert(0, folder / "report.md")
    if not written:
        print(
            f"no study named {name!r} with trials, and no comparison of it, in "
            f"{redact(args.storage)}; run optimize or compare first",
            file=sys.stderr,
        )
        return 2
    for path in written:
        print(f"report: {path}")
    return 0


def _load_if_any(storage: optuna.storages.BaseStorage, name: str) -> optuna.Study | None:
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return None
    ensure_ours(study)
    return study


COMMANDS = {
    "range-test": cmd_range_test,
    "optimize": cmd_optimize,
    "compare": cmd_compare,
    "report": cmd_report,
}


# Modules an exception must not cut short: it could leave a storage transaction half done
_BOOKKEEPING = ("optuna.storages", "optuna.study._tell", "sqlalchemy", "psycopg", "sqlite3")


def _in_bookkeeping(frame: FrameType | None) -> bool:
    """Whether the main thread, stopped at ``frame``, writes to the storage or runs Optuna's own
    steps between two calls of ours (``ask``, ``tell``, ``study.optimize`` around a trial): an
    exception raised there could leave a transaction half done, or a trial RUNNING that no
    one owns. Training, waiting and our own code are fine places to stop."""
    ours_seen = False
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith(_BOOKKEEPING) or (
            module == "optuna.study.study" and frame.f_code.co_name in ("ask", "tell")
        ):
            return True
        if not ours_seen and module.startswith("optuna"):
            if not module.startswith("optuna_clr"):
                return True  # Optuna's code, not called from ours
            ours_seen = True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`~optuna_clr.study.runner.Interrupted` in the main thread,
    once: more of them while it unwinds are ignored, so failing and re-queuing the running trials
    is not cut short (a terminal's Ctrl-C and the parent of a worker may both send one; SIGKILL
    still stops at once). One that comes during the storage's or Optuna's bookkeeping is raised
    as soon as that is done (checked every 50 ms). Installed whatever the inherited
    disposition: a background job of a non-interactive shell starts with SIGINT ignored, and a
    supervisor's ``kill -INT`` must stop it all the same (``nohup`` ignores SIGHUP, not SIGINT)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set there
        return
    raised, pending = False, 0
    timers: list[threading.Timer] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal raised, pending
        if raised:
            return
        if _in_bookkeeping(frame):
            # the same signal again in a moment; a real one, which also interrupts a blocking
            # call such as the wait for the workers
            pending = signum
            timers[:] = [t for t in timers if t.is_alive()]
            timers.append(threading.Timer(0.05, os.kill, (os.getpid(), signum)))
            timers[-1].start()
            return
        raised = True
        # Optuna logs the interrupted trial with a long traceback; main's one line says it
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        raise Interrupted(signum)

    before = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for timer in timers:
            timer.cancel()
            timer.join()
        for signum, previous in before.items():
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
    if pending and not raised:  # it came as the command finished: still a stop, not a success
        raise Interrupted(pending)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.storage is None:
        args.storage = os.environ.get(STORAGE_ENV) or DEFAULT_URL
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with _stop_on_signals():
            return COMMANDS[args.command](args)
    except KeyboardInterrupt as interrupt:
        signum = interrupt.signum if isinstance(interrupt, Interrupted) else signal.SIGINT
        if getattr(args, "worker", None) is None:  # a worker's parent says it, once
            start = "\n" if signum == signal.SIGINT else ""  # past the terminal's ^C
            name = signal.Signals(signum).name
            print(
                f"{start}interrupted ({name}): finished trials are kept in "
                f"{redact(args.storage)}, interrupted ones queued again; run the same command "
                "again to continue",
                file=sys.stderr,
            )
        return 128 + signum
    except (
        StudyFileError,
        DataError,
        StorageError,
        WorkerError,
        OutputError,
        ValueError,
    ) as error:
        if os.environ.get("OPTUNA_CLR_DEBUG"):
            raise
        print(f"optuna-clr: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
