"""CLR versus a tuned fixed LR: the protocol, with seeds the winners were not picked on.

The comparison protocol (:func:`compare`):

1. two arms with the same trial budget, as two studies in one storage: ``<name>-fixed`` tunes
   a fixed LR, ``<name>-cyclical`` tunes the CLR families and their bounds (both narrowed by
   the range test, both with the study's sampler and pruner);
2. the best configuration of each arm, and any hand-set baselines, retrained with several
   seeds (validation split, initial weights and batch order all change with the seed). The
   seeds leave out the one the arms were tuned with (:func:`retrain_seeds`): a winner scored
   again on the validation split it was picked on would look better than it is;
3. per arm: iterations to target for every seed, test accuracy, and the speed-up of the
   cyclical arm over the fixed one with a paired interval
   (:func:`optuna_clr.statistics.bootstrap_ratio`).

The outcome is a :class:`Comparison`; :mod:`optuna_clr.report` writes it as Markdown, CSV and
figures, :mod:`optuna_clr.dashboard` shows it in optuna-dashboard.

A seed that does not reach the target counts with its censored value (see
:func:`optuna_clr.tracking.censored_value`) and is marked in the tables.

Everything is resumable: arms top up to their trial budget, and retrained seeds are stored
(the winners' in the arm studies, the baselines' in study ``<name>``, keyed by the baseline
and the training setup) and not trained again.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import json
import os
import platform
import statistics
from typing import Any

import optuna
from optuna.trial import TrialState

from optuna_clr import schedules
from optuna_clr.objective import IterationsToTarget
from optuna_clr.range_test import RangeTestResult
from optuna_clr.space import ScheduleSpace
from optuna_clr.statistics import bootstrap_ratio
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
    :func:`optuna_clr.report.write_report` for the files and
    :func:`optuna_clr.dashboard.attach_comparison` for the dashboard. ``seeds`` should
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


