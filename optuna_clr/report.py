"""CLR versus a tuned fixed LR, with seeds and error bars; study summaries; dashboard notes.

The comparison protocol (:func:`compare`):

1. two arms with the same trial budget, as two studies in one storage: ``<name>-fixed`` tunes
   a fixed LR, ``<name>-cyclical`` tunes the CLR families and their bounds (both narrowed by
   the range test, both with the study's sampler and pruner);
2. the best configuration of each arm, and any hand-set baselines, retrained with several
   seeds (validation split, initial weights and batch order all change with the seed). The
   seeds leave out the one the arms were tuned with (:func:`retrain_seeds`): a winner scored
   again on the validation split it was picked on would look better than it is;
3. per arm: iterations to target (mean, standard deviation, every seed), test accuracy, and
   the speed-up ``mean(fixed) / mean(cyclical)`` with a paired bootstrap 95% interval: every
   configuration trains with the same seeds, so seeds are resampled jointly, 10,000 times
   (:func:`bootstrap_ratio`);
4. a Markdown report, PNG figures and CSV summaries in a folder, also attached to both arm
   studies (figures as Optuna artifacts, the report as an optuna-dashboard note).

A seed that does not reach the target counts with its censored value (see
:func:`optuna_clr.tracking.censored_value`) and is marked in the tables.

Everything is resumable: arms top up to their trial budget, and retrained seeds are stored
(the winners' in the arm studies, the baselines' in study ``<name>``, keyed by the baseline
and the training setup) and not trained again.
"""

from __future__ import annotations

from collections.abc import Callable
import csv
import dataclasses
import itertools
import json
import os
from pathlib import Path
import platform
import statistics
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from optuna_clr import schedules
from optuna_clr.objective import IterationsToTarget
from optuna_clr.range_test import RangeTestResult
from optuna_clr.space import ScheduleSpace
from optuna_clr.tracking import censored_value
from optuna_clr.training import TrainResult


ARMS = ("fixed", "cyclical")
RETRAIN_ATTR = "retrained"
BASELINE_ATTR = "baseline_runs"
COMPARISON_ATTR = "comparison"


@dataclasses.dataclass
class SeedRun:
    """One retraining of one configuration with one seed."""

    seed: int
    reached: bool
    value: float                 # iterations (or the unit) to target; censored if not reached
    iterations: int              # updates trained
    examples_seen: int
    best_accuracy: float
    test_accuracy: float | None
    curve: list[list[float]]     # [iterations, validation accuracy]

    @classmethod
    def from_result(cls, seed: int, result: TrainResult, objective: IterationsToTarget) -> SeedRun:
        if result.reached:
            value = {"iterations": result.iterations_to_target, "examples": result.examples_to_target,
                     "seconds": result.seconds_to_target}[objective.unit]
        else:
            value = censored_value(objective.budget, objective.target_accuracy, result.best_accuracy)
        return cls(seed, result.reached, float(value), result.iterations, result.examples_seen, result.best_accuracy,
                   result.test_accuracy, [[e.step, e.accuracy] for e in result.curve])


@dataclasses.dataclass
class Arm:
    """A configuration retrained with every seed: a tuned winner or a baseline."""

    name: str
    kind: str                    # "tuned" or "baseline"
    schedule: dict[str, Any]
    runs: list[SeedRun]
    training: dict[str, Any] = dataclasses.field(default_factory=dict)
    study_name: str | None = None
    trial_number: int | None = None
    trials: int = 0

    @property
    def values(self) -> list[float]:
        return [r.value for r in self.runs]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    def test_accuracy(self) -> tuple[float, float] | None:
        accs = [r.test_accuracy for r in self.runs if r.test_accuracy is not None]
        if not accs:
            return None
        return statistics.fmean(accs), statistics.stdev(accs) if len(accs) > 1 else 0.0


@dataclasses.dataclass
class Comparison:
    """The outcome of :func:`compare`, JSON-ready (stored in the arm studies)."""

    name: str
    unit: str
    target_accuracy: float
    budget: float
    seeds: list[int]
    arms: list[Arm]
    speedup: dict[str, Any] | None
    settings: dict[str, Any]
    tuning_seed: int | None = None   # the seed the arms were tuned with, left out of ``seeds``

    def arm(self, name: str) -> Arm | None:
        return next((a for a in self.arms if a.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Comparison:
        d = dict(d)
        d["arms"] = [Arm(**{**a, "runs": [SeedRun(**r) for r in a["runs"]]}) for a in d["arms"]]
        return cls(**d)


def bootstrap_ratio(numerator: list[float], denominator: list[float], *, resamples: int = 10_000,
                    seed: int = 0, level: float = 0.95) -> dict[str, Any]:
    """``mean(numerator) / mean(denominator)`` and its paired percentile bootstrap interval.

    The two lists are one value per seed, in the same seed order: a seed fixes the validation
    split, the initial weights and the batch order for both configurations, so a hard seed is
    hard for both. Resampling seeds jointly keeps that pairing; resampling each list on its
    own would treat them as independent and give a wider, wrong interval. With fewer than two
    seeds there is nothing to resample: ``low`` and ``high`` are None."""
    a, b = np.asarray(numerator, float), np.asarray(denominator, float)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"a paired bootstrap needs one value per seed in each list, got {len(a)} and {len(b)} values")
    out: dict[str, Any] = {"ratio": float(a.mean() / b.mean()), "low": None, "high": None,
                           "resamples": resamples, "level": level, "paired": True}
    if len(a) < 2:
        return out
    idx = np.random.default_rng(seed).integers(len(a), size=(resamples, len(a)))
    ratios = a[idx].mean(1) / b[idx].mean(1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return {**out, "low": float(low), "high": float(high)}


def retrain_seeds(tuning_seed: int, count: int) -> list[int]:
    """The seeds the winners are retrained with: ``tuning_seed + 1`` onwards. The arms were
    tuned on ``tuning_seed``'s validation split; scoring a winner again on it would count the
    luck it was picked for."""
    return [tuning_seed + 1 + i for i in range(count)]


def retrain(objective: IterationsToTarget, schedule: schedules.Schedule, seeds: list[int], *,
            training: dict[str, Any] | None = None, progress: Callable[[str], None] | None = None) -> list[SeedRun]:
    """Train ``schedule`` once per seed with the objective's settings (and ``training``
    overrides), no Optuna involved."""
    runs = []
    for seed in seeds:
        if progress:
            progress(f"seed {seed}: {schedule!r}")
        result = objective.run(schedule, seed=seed, overrides=training or None)
        runs.append(SeedRun.from_result(seed, result, objective))
    return runs


def compare(
    *,
    name: str,
    storage: optuna.storages.BaseStorage,
    objective: IterationsToTarget,
    fixed_space: ScheduleSpace,
    cyclical_space: ScheduleSpace,
    make_sampler: Callable[[str], optuna.samplers.BaseSampler],
    make_pruner: Callable[[], optuna.pruners.BasePruner],
    n_trials: int,
    seeds: list[int],
    baselines: dict[str, Any] | None = None,
    range_test: RangeTestResult | None = None,
    parallel: int = 1,
    settings: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    show_progress_bar: bool = False,
    tuning_seed: int | None = None,
) -> Comparison:
    """Run the comparison protocol (module docstring) and return its outcome; see
    :func:`write_report` for the files and :func:`attach` for the dashboard. ``seeds`` should
    leave out ``tuning_seed``, the seed the objective tunes with (:func:`retrain_seeds`)."""
    from optuna_clr.runner import optimize

    say = progress or (lambda message: None)
    arms: list[Arm] = []
    for arm, space in (("fixed", fixed_space), ("cyclical", cyclical_space)):
        if n_trials == 0:
            break
        study = optuna.create_study(study_name=f"{name}-{arm}", storage=storage, direction="minimize",
                                    sampler=make_sampler(arm), pruner=make_pruner(), load_if_exists=True)
        study.set_user_attr("space", space.to_dict())
        study.set_user_attr("arm", arm)
        stored = RangeTestResult.from_study(study)
        if range_test is not None and (stored is None or stored.to_dict() != range_test.to_dict()):
            range_test.attach(study)  # the arm shows the test its space was narrowed with
        done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
        if done < n_trials:
            say(f"{arm} arm: {n_trials - done} trials to run ({done} done) in study {study.study_name!r}")
            objective.space = space
            optimize(study, objective, n_trials=n_trials - done, parallel=parallel, show_progress_bar=show_progress_bar)
        best = study.best_trial
        schedule = schedules.from_dict(best.user_attrs["schedule"])
        runs = _stored_runs(study, seeds)
        missing = [s for s in seeds if s not in {r.seed for r in runs}]
        if missing:
            say(f"{arm} arm: retraining trial {best.number} with seeds {missing}")
            runs += retrain(objective, schedule, missing, progress=say)
            study.set_user_attr(RETRAIN_ATTR, {"trial": best.number, "runs": [dataclasses.asdict(r) for r in runs]})
        runs.sort(key=lambda r: seeds.index(r.seed))
        finished = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
        arms.append(Arm(arm, "tuned", schedule.to_dict(), runs, study_name=study.study_name,
                        trial_number=best.number, trials=finished))
    home = optuna.create_study(study_name=name, storage=storage, direction="minimize", load_if_exists=True)
    for label, baseline in (baselines or {}).items():
        arms.append(_baseline_arm(home, objective, label, baseline, seeds, say))
    fixed, cyclical = (next((a for a in arms if a.name == n), None) for n in ARMS)
    speedup = bootstrap_ratio(fixed.values, cyclical.values) if fixed and cyclical else None
    result = Comparison(
        name=name, unit=objective.unit, target_accuracy=objective.target_accuracy, budget=objective.budget,
        seeds=list(seeds), arms=arms, speedup=speedup, settings={**environment(objective), **(settings or {})},
        tuning_seed=tuning_seed,
    )
    # in every arm study and in study <name>, so a baselines-only comparison can be reported too
    for study_name in [name, *(a.study_name for a in arms if a.study_name)]:
        optuna.load_study(study_name=study_name, storage=storage).set_user_attr(COMPARISON_ATTR, result.to_dict())
    return result


def _baseline_arm(home: optuna.Study, objective: IterationsToTarget, label: str, baseline: Any, seeds: list[int],
                  say: Callable[[str], None]) -> Arm:
    """A baseline retrained with every seed; the seeds already stored in ``home`` for the same
    baseline and the same training setup are not trained again."""
    key = {"baseline": baseline.to_dict(), "setup": _setup(objective)}
    stored = home.user_attrs.get(BASELINE_ATTR, {}).get(label, {})
    runs = [SeedRun(**r) for r in stored.get("runs", []) if r["seed"] in seeds] if stored.get("key") == key else []
    missing = [s for s in seeds if s not in {r.seed for r in runs}]
    if missing:
        say(f"baseline {label}: retraining with seeds {missing}")
        runs += retrain(objective, baseline.schedule, missing, training=baseline.training, progress=say)
        every = dict(home.user_attrs.get(BASELINE_ATTR, {}))  # read again: stored after each baseline
        every[label] = {"key": key, "runs": [dataclasses.asdict(r) for r in runs]}
        home.set_user_attr(BASELINE_ATTR, every)
    runs.sort(key=lambda r: seeds.index(r.seed))
    return Arm(label, "baseline", baseline.schedule.to_dict(), runs, training=dict(baseline.training))


def _setup(objective: IterationsToTarget) -> dict[str, Any]:
    """What decides a retrained seed's outcome besides the schedule and the seed, as JSON (how
    it reads back from a study): stored runs count only while this is unchanged."""
    config = {k: v for k, v in dataclasses.asdict(objective.config).items() if k not in ("seed", "device")}
    model = objective.model if isinstance(objective.model, str) else getattr(objective.model, "__name__", repr(objective.model))
    setup = {"task": objective.task.name, "validation": objective.validation, "model": model, "unit": objective.unit,
             "budget": objective.budget, "config": config}
    return json.loads(json.dumps(setup, default=str))


def _stored_runs(study: optuna.Study, seeds: list[int]) -> list[SeedRun]:
    stored = study.user_attrs.get(RETRAIN_ATTR)
    if not stored or stored.get("trial") != study.best_trial.number:
        return []
    return [SeedRun(**r) for r in stored["runs"] if r["seed"] in seeds]


def environment(objective: IterationsToTarget) -> dict[str, Any]:
    """Device and versions, stated at the top of every report."""
    import torch

    device = str(objective.device)
    if objective.device.type == "cuda":
        device = torch.cuda.get_device_name(objective.device)
    else:
        device = f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    return {"device": device, "torch": torch.__version__, "optuna": optuna.__version__, "python": platform.python_version()}


# --- figures ---


def format_value(value: float, unit: str) -> str:
    """A value in the objective's unit as the tables show it: seconds to 0.01, counts whole."""
    return f"{value:.2f}" if unit == "seconds" else f"{value:,.0f}"


def colors(n: int) -> list[Any]:
    """``n`` colours, one per configuration: tab10 up to 10, tab20 up to 20, then tab20 again.
    A figure must never drop a configuration for want of a colour (``zip`` with a short list
    did: the CLR paper's optimizer table has 10 baselines)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return list(itertools.islice(itertools.cycle(cmap.colors), n))


def figures(comparison: Comparison, range_test: RangeTestResult | None = None) -> dict[str, Any]:
    """Matplotlib figures of a comparison: learning curves, schedules, iterations to target,
    and the range test."""
    from matplotlib.figure import Figure

    palette = colors(len(comparison.arms))
    out: dict[str, Any] = {}

    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    longest = 1
    for color, arm in zip(palette, comparison.arms):
        for i, run in enumerate(arm.runs):
            steps, accs = zip(*run.curve) if run.curve else ((), ())
            longest = max([longest, *steps])
            ax.plot(steps, accs, color=color, lw=0.9, alpha=0.8, label=f"{arm.name} ({len(arm.runs)} seeds)" if i == 0 else None)
    ax.axhline(comparison.target_accuracy, color="black", ls="--", lw=0.8, label=f"target {comparison.target_accuracy:g}")
    ax.set_xscale("log")  # a seed that never reaches the target would squash the rest
    ax.set_xlabel("iteration (log scale)")
    ax.set_ylabel("validation accuracy")
    ax.set_title(f"{comparison.name}: validation accuracy of each configuration, every seed", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    out["curves"] = fig

    fig = Figure(figsize=(7, 3.4), layout="constrained")
    ax = fig.add_subplot()
    for color, arm in zip(palette, comparison.arms):
        s = schedules.from_dict(arm.schedule)
        xs = range(0, longest, max(1, longest // 2000))
        ax.plot(list(xs), [s.lr(x) for x in xs], color=color, lw=1.2, label=f"{arm.name}: {s.label()}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("learning rate")
    ax.set_title("learning-rate schedules", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    out["schedules"] = fig

    fig = Figure(figsize=(7, max(3.2, 1.2 + 0.3 * len(comparison.arms))), layout="constrained")
    ax = fig.add_subplot()
    for i, (color, arm) in enumerate(zip(palette, comparison.arms)):
        ax.errorbar([arm.mean], [i], xerr=[arm.std], fmt="o", color=color, capsize=4)
        for r in arm.runs:
            ax.plot(r.value, i + 0.12, marker="x" if not r.reached else "|", color=color, ms=8)
    ax.axvline(comparison.budget, color="black", ls=":", lw=0.8, label="budget (x: not reached, censored)")
    ax.set_yticks(range(len(comparison.arms)), [a.name for a in comparison.arms])
    ax.set_xlabel(f"{comparison.unit} to {comparison.target_accuracy:g} validation accuracy (mean ± std, every seed)")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=7)
    out["iterations"] = fig

    if range_test is not None:
        out["range_test"] = range_test.plot()
    return out


# --- report files ---


def markdown(comparison: Comparison, images: dict[str, str]) -> str:
    """The comparison as Markdown; ``images`` maps figure names to paths or URLs."""
    c = comparison
    unit = c.unit
    lines = [f"# {c.name}: CLR versus a tuned fixed LR", ""]
    fixed, cyclical = c.arm("fixed"), c.arm("cyclical")
    if fixed and cyclical and c.speedup:
        lines += [
            f"**The tuned cyclical schedule reached {c.target_accuracy:g} validation accuracy in "
            f"{format_value(cyclical.mean, unit)} {unit} (mean of {len(c.seeds)} seeds); the tuned fixed LR needed "
            f"{format_value(fixed.mean, unit)}: a speed-up of {c.speedup['ratio']:.2f}x ({_interval(c.speedup)}).**",
            "",
        ]
    if c.tuning_seed is not None:
        lines += [f"Every configuration is retrained with seeds {', '.join(map(str, c.seeds))} (each fixes the validation "
                  f"split, initial weights and batch order). The arms were tuned with seed {c.tuning_seed}, which is left "
                  "out, so no winner is scored on the validation split it was picked on.", ""]
    lines += [f"| configuration | schedule | {unit} to target, mean ± std | median | every seed | reached | test accuracy |",
              "|---|---|---|---|---|---|---|"]
    for arm in c.arms:
        seeds = ", ".join(format_value(r.value, unit) + ("" if r.reached else "*") for r in arm.runs)
        test = arm.test_accuracy()
        test_s = f"{test[0]:.4f} ± {test[1]:.4f}" if test else "-"
        where = f" (trial {arm.trial_number} of {arm.trials})" if arm.kind == "tuned" else " (baseline)"
        sched = schedules.from_dict(arm.schedule).label() + (f" with {arm.training}" if arm.training else "")
        lines.append(f"| {arm.name}{where} | `{sched}` | {format_value(arm.mean, unit)} ± {format_value(arm.std, unit)} | "
                     f"{format_value(statistics.median(arm.values), unit)} | {seeds} | "
                     f"{sum(r.reached for r in arm.runs)}/{len(arm.runs)} | {test_s} |")
    lines += ["", f"\\* not reached within the budget ({format_value(c.budget, unit)} {unit}): the censored value "
                  f"budget x (1 + target - best accuracy) is counted.", ""]
    for name, title in (("curves", "Validation accuracy"), ("schedules", "Schedules"),
                        ("iterations", f"{unit.capitalize()} to target"), ("range_test", "LR range test")):
        if name in images:
            lines += [f"### {title}", "", f"![{name}]({images[name]})", ""]
    lines += ["### Setup", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in {"target accuracy": c.target_accuracy, "unit": unit,
                                             "budget": format_value(c.budget, unit), "seeds": c.seeds, **c.settings}.items()]
    return "\n".join(lines) + "\n"


def _interval(speedup: dict[str, Any]) -> str:
    if speedup.get("low") is None:
        return "one seed, so no interval: retrain with --seeds 2 or more for one"
    paired = ", seeds resampled in pairs" if speedup.get("paired") else ""
    return f"{speedup['level']:.0%} bootstrap interval {speedup['low']:.2f}-{speedup['high']:.2f}{paired}"


def write_report(comparison: Comparison, folder: str | Path, *, range_test: RangeTestResult | None = None) -> Path:
    """Write ``report.md``, the PNG figures and ``seeds.csv`` into ``folder``; returns the report path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    images = {}
    for name, fig in figures(comparison, range_test).items():
        fig.savefig(folder / f"{name}.png", dpi=100)
        images[name] = f"{name}.png"
    with open(folder / "seeds.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["configuration", "kind", "seed", "reached", f"{comparison.unit}_to_target_or_censored",
                         "iterations_trained", "examples_seen", "best_validation_accuracy", "test_accuracy", "schedule"])
        for arm in comparison.arms:
            for r in arm.runs:
                writer.writerow([arm.name, arm.kind, r.seed, r.reached, r.value, r.iterations, r.examples_seen,
                                 r.best_accuracy, r.test_accuracy, repr(schedules.from_dict(arm.schedule))])
    path = folder / "report.md"
    path.write_text(markdown(comparison, images))
    return path


def write_trials_csv(study: optuna.Study, path: str | Path) -> Path:
    """One row per trial: number, state, value, reached, iterations, family and parameters."""
    trials = study.get_trials(deepcopy=False)
    names = sorted({k for t in trials for k in t.params})
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["number", "state", "value", "reached", "iterations", "best_accuracy", "test_accuracy", *names])
        for t in trials:
            a = t.user_attrs
            writer.writerow([t.number, t.state.name, t.value, a.get("reached"), a.get("iterations"),
                             a.get("best_accuracy"), a.get("test_accuracy"), *[t.params.get(n) for n in names]])
    return Path(path)


def family_table(study: optuna.Study) -> list[dict[str, Any]]:
    """Per family: trials, pruned, and the best completed trial (best families first)."""
    rows: dict[str, dict[str, Any]] = {}
    for t in study.get_trials(deepcopy=False):
        family = t.params.get("family", t.user_attrs.get("schedule", {}).get("family", "?"))
        row = rows.setdefault(family, {"family": family, "trials": 0, "pruned": 0, "value": None, "trial": "-",
                                       "reached": False, "test_accuracy": None, "schedule": "-"})
        row["trials"] += 1
        row["pruned"] += t.state == TrialState.PRUNED
        if t.state == TrialState.COMPLETE and (row["value"] is None or t.value < row["value"]):
            row.update(value=t.value, trial=t.number, reached=t.user_attrs.get("reached"),
                       test_accuracy=t.user_attrs.get("test_accuracy"),
                       schedule=schedules.from_dict(t.user_attrs["schedule"]).label())
    return sorted(rows.values(), key=lambda r: (r["value"] is None, r["value"] or 0))


def study_unit(study: optuna.Study) -> str:
    """What the study's values count (iterations, examples or seconds), as its trials recorded."""
    return next((t.user_attrs["unit"] for t in study.get_trials(deepcopy=False) if "unit" in t.user_attrs), "iterations")


def family_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """:func:`family_table` formatted for display: the value in the study's unit, marked when
    the target was not reached, and the test accuracy; the CLI's summary and the report's
    table both show these."""
    unit = study_unit(study)
    rows = []
    for row in family_table(study):
        value = "-" if row["value"] is None else format_value(row["value"], unit) + ("" if row["reached"] else " (not reached)")
        test = "-" if row["test_accuracy"] is None else f"{row['test_accuracy']:.4f}"
        rows.append({**row, "value": value, "test_accuracy": test})
    return rows


def study_markdown(study: optuna.Study, images: dict[str, str]) -> str:
    """A study's summary: the best trial of each family and the figures."""
    unit = study_unit(study)
    states = [t.state for t in study.trials]
    lines = [f"# {study.study_name}", "",
             f"{len(states)} trials: {states.count(TrialState.COMPLETE)} complete, {states.count(TrialState.PRUNED)} pruned, "
             f"{states.count(TrialState.FAIL)} failed.", "",
             f"| family | trials (pruned) | best {unit} to target | trial | test accuracy | schedule |", "|---|---|---|---|---|---|"]
    for row in family_rows(study):
        lines.append(f"| {row['family']} | {row['trials']} ({row['pruned']}) | {row['value']} | {row['trial']} | "
                     f"{row['test_accuracy']} | `{row['schedule']}` |")
    lines.append("")
    for name, path in images.items():
        lines += [f"![{name}]({path})", ""]
    return "\n".join(lines)


def study_figures(study: optuna.Study, *, top: int = 5) -> dict[str, Any]:
    """The validation curves of the best ``top`` trials (with their schedules) and the range test."""
    from matplotlib.figure import Figure

    done = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.value)[:top]
    out: dict[str, Any] = {}
    if done:
        fig = Figure(figsize=(7, 6), layout="constrained")
        ax, ax2 = fig.subplots(2, 1, sharex=True)
        for t in done:
            curve = t.user_attrs.get("accuracy_curve", [])
            label = f"trial {t.number}: {t.params.get('family', '?')} ({t.value:,.0f})"
            if curve:
                ax.plot(*zip(*curve), lw=1.1, label=label)
            s = schedules.from_dict(t.user_attrs["schedule"])
            n = int(t.user_attrs.get("iterations", 1))
            xs = range(0, max(n, 1), max(1, n // 1000))
            ax2.plot(list(xs), [s.lr(x) for x in xs], lw=1.1)
        target = done[0].user_attrs.get("target_accuracy")
        if target:
            ax.axhline(target, color="black", ls="--", lw=0.8, label=f"target {target:g}")
        ax.set_ylabel("validation accuracy")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        ax.set_title(f"{study.study_name}: the {len(done)} best trials", fontsize=9)
        ax2.set_ylabel("learning rate")
        ax2.set_xlabel("iteration")
        ax2.grid(alpha=0.3)
        out["best_trials"] = fig
    rt = RangeTestResult.from_study(study)
    if rt is not None:
        out["range_test"] = rt.plot()
    return out


def write_study_report(study: optuna.Study, folder: str | Path) -> Path:
    """``report.md``, figures and ``trials.csv`` for one study."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    images = {}
    for name, fig in study_figures(study).items():
        fig.savefig(folder / f"{name}.png", dpi=100)
        images[name] = f"{name}.png"
    write_trials_csv(study, folder / "trials.csv")
    path = folder / "report.md"
    path.write_text(study_markdown(study, images))
    return path


# --- optuna-dashboard ---


def attach(study: optuna.Study, folder: str | Path, artifact_store: Any, *, note_title: str | None = None) -> dict[str, str]:
    """Upload the PNGs in ``folder`` as artifacts of ``study`` and save ``report.md`` as its
    optuna-dashboard note, with the images pointing at the uploaded artifacts. Returns the
    artifact ids by file name. The previous report's artifacts are removed, so reattaching
    does not pile up copies; the range-test plot already attached to the study is reused.
    Without optuna-dashboard installed, only the artifacts are saved."""
    import json

    from optuna.artifacts import upload_artifact
    from optuna.artifacts.exceptions import ArtifactNotFound

    for old in study.user_attrs.get("report_artifacts", {}).values():
        if old == study.user_attrs.get("range_test_plot"):
            continue
        try:
            artifact_store.remove(old)
        except ArtifactNotFound:
            pass
        # what optuna-dashboard's own delete does: hide the artifact's entry in the study
        study._storage.set_study_system_attr(study._study_id, f"artifacts:{old}", json.dumps(None))
    folder = Path(folder)
    ids = {}
    for png in sorted(folder.glob("*.png")):
        if png.name == "range_test.png" and study.user_attrs.get("range_test_plot"):
            ids[png.name] = study.user_attrs["range_test_plot"]
        else:
            ids[png.name] = upload_artifact(artifact_store=artifact_store, file_path=str(png), study_or_trial=study)
    study.set_user_attr("report_artifacts", ids)
    try:
        import optuna_dashboard
        from optuna_dashboard.artifact import get_artifact_path
    except ModuleNotFoundError:
        return ids
    text = (folder / "report.md").read_text()
    for name, artifact_id in ids.items():
        text = text.replace(f"]({name})", f"]({get_artifact_path(study, artifact_id)})")
    optuna_dashboard.save_note(study, (f"# {note_title}\n\n" if note_title else "") + text)
    return ids


def attach_comparison(comparison: Comparison, storage: optuna.storages.BaseStorage, folder: str | Path,
                      store: Any) -> None:
    """The comparison report in ``folder`` as the note of each arm study (with its figures)."""
    for arm in comparison.arms:
        if arm.study_name:
            attach(optuna.load_study(study_name=arm.study_name, storage=storage), folder, store,
                   note_title=f"{arm.name} arm of the comparison")


def stored_comparison(storage: optuna.storages.BaseStorage, name: str) -> tuple[Comparison, RangeTestResult | None] | None:
    """The last comparison ``compare`` stored for ``name`` (in study ``<name>``, or in an arm
    study for storages written before it went into ``<name>`` too) and its range test."""
    names = {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    for study_name in [name] + [f"{name}-{arm}" for arm in ARMS]:
        if study_name in names:
            study = optuna.load_study(study_name=study_name, storage=storage)
            if COMPARISON_ATTR in study.user_attrs:
                arm_studies = [f"{name}-{arm}" for arm in ARMS if f"{name}-{arm}" in names]
                rt_study = optuna.load_study(study_name=arm_studies[0], storage=storage) if arm_studies else study
                return Comparison.from_dict(study.user_attrs[COMPARISON_ATTR]), RangeTestResult.from_study(rt_study)
    return None


def artifact_store(folder: str | Path) -> Any:
    """Optuna's file-system artifact store in ``folder`` (created if missing)."""
    from optuna.artifacts import FileSystemArtifactStore

    Path(folder).mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(folder))

