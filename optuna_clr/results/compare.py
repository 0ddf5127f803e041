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
   (:func:`optuna_clr.results.statistics.paired_ratio`).

The outcome is a :class:`Comparison`; :mod:`optuna_clr.results.report` writes it as Markdown, CSV
and figures, :mod:`optuna_clr.results.dashboard` shows it in optuna-dashboard.

A seed that does not reach the target counts with its censored value (see
:func:`optuna_clr.study.tracking.censored_value`) and is marked in the tables.

Everything is resumable: arms top up to their trial budget, and retrained seeds are stored
(the winners' in the arm studies, the baselines' in study ``<name>``, keyed by the baseline
and the training setup) and not trained again.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import datetime
import hashlib
import json
import os
import platform
import statistics
from typing import Any
from typing import cast

import optuna
from optuna.trial import TrialState

from optuna_clr import records
from optuna_clr import schedules
from optuna_clr.results.statistics import paired_ratio
from optuna_clr.results.statistics import SequentialDesign
from optuna_clr.search.range_test import RangeTestResult
from optuna_clr.search.space import ScheduleSpace
from optuna_clr.study.fingerprint import ensure_fingerprint
from optuna_clr.study.fingerprint import ensure_same_choices
from optuna_clr.study.notes import name_metric
from optuna_clr.study.objective import IterationsToTarget
from optuna_clr.study.tracking import accuracy_curve
from optuna_clr.study.tracking import reported_value
from optuna_clr.training.engine import TrainResult
from optuna_clr.training.experiment import Experiment
from optuna_clr.training.fused import fusable


ARMS = ("fixed", "cyclical")
COMPARISON_ATTR = "comparison"  # the record (optuna_clr.records) of the last comparison
RETRAIN_SUFFIX = "-retrain"  # study <name>-retrain holds every retrained seed as a trial
SEED_DISTRIBUTION = optuna.distributions.IntDistribution(0, 2**32 - 1)  # torch.manual_seed's range


@dataclasses.dataclass
class SeedRun:
    """One retraining of one configuration with one seed."""

    seed: int
    reached: bool
    value: float  # iterations (or the unit) to target; censored if not reached
    iterations: int  # updates trained
    examples_seen: int
    best_accuracy: float
    test_accuracy: float | None
    curve: list[list[float]]  # [iterations, validation accuracy]
    seconds: float = 0.0  # wall seconds of the run

    @classmethod
    def from_result(cls, seed: int, result: TrainResult, experiment: Experiment) -> SeedRun:
        return cls(
            seed,
            result.reached,
            experiment.value(result),
            result.iterations,
            result.examples_seen,
            round(result.best_accuracy, 4),  # as stored in the retrain study's attrs
            None if result.test_accuracy is None else round(result.test_accuracy, 4),
            [[e.step, cast(float, e.accuracy)] for e in result.curve],  # validated steps
            result.seconds,
        )


@dataclasses.dataclass
class Arm:
    """A configuration retrained with every seed: a tuned winner or a baseline."""

    name: str
    kind: str  # "tuned" or "baseline"
    schedule: dict[str, Any]
    runs: list[SeedRun]
    training: dict[str, Any] = dataclasses.field(default_factory=dict)
    study_name: str | None = None
    trial_number: int | None = None
    trials: int = 0
    tuning_iterations: int = 0  # updates trained by the arm's tuning trials, all of them
    tuning_seconds: float = 0.0  # their wall seconds

    @property
    def values(self) -> list[float]:
        return [r.value for r in self.runs]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    @property
    def retrain_iterations(self) -> int:
        return sum(r.iterations for r in self.runs)

    @property
    def compute(self) -> int:
        """What the arm's answer cost: its tuning trials' iterations plus its retrained seeds'."""
        return (self.tuning_iterations if self.kind == "tuned" else 0) + self.retrain_iterations

    @property
    def retrain_seconds(self) -> float:
        return sum(r.seconds for r in self.runs)

    def cycles_to_target(self, target: float) -> list[float] | None:
        """The cycles the schedule had completed when each seed that reached ``target`` first
        reached it (a seed that ran the whole budget would count cycles the answer never
        needed); None for a schedule that does not cycle.

        Args:
            target: the validation accuracy the seeds were trained to.

        Returns:
            One fraction per seed that reached the target, in seed order; empty if none did.
        """
        schedule = schedules.from_dict(self.schedule)
        if not schedule.cycles:
            return None
        steps = [
            next((int(step) for step, acc in r.curve if acc >= target), r.iterations)
            for r in self.runs
            if r.reached
        ]
        return [cast(float, schedule.cycles_completed(n)) for n in steps]

    def test_accuracy(self) -> tuple[float, float] | None:
        accs = [r.test_accuracy for r in self.runs if r.test_accuracy is not None]
        if not accs:
            return None
        return statistics.fmean(accs), statistics.stdev(accs) if len(accs) > 1 else 0.0


@dataclasses.dataclass
class Comparison:
    """The outcome of :func:`compare`, JSON-ready (stored as a record of every study of it)."""

    name: str
    unit: str
    target_accuracy: float
    budget: float
    seeds: list[int]
    arms: list[Arm]
    speedup: dict[str, Any] | None
    settings: dict[str, Any]
    tuning_seed: int | None = None  # the seed the arms were tuned with, left out of ``seeds``

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


def retrain(
    experiment: Experiment,
    schedule: schedules.Schedule,
    seeds: list[int],
    *,
    training: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    parallel: int = 1,
) -> list[SeedRun]:
    """Train ``schedule`` once per seed with the experiment's settings (and ``training``
    overrides), no Optuna involved; ``progress`` hears each seed's outcome in a line. With
    ``parallel`` > 1 the seeds train that many at a time as one fused job where the fused
    engine runs the configuration (:meth:`Experiment.run_seeds`)."""

    def finished(seed: int, result: TrainResult) -> None:
        if progress:
            progress(_outcome(SeedRun.from_result(seed, result, experiment), experiment))

    results = experiment.run_seeds(
        schedule, seeds, overrides=training or None, parallel=parallel, on_done=finished
    )
    return [SeedRun.from_result(seed, r, experiment) for seed, r in zip(seeds, results)]


def _outcome(run: SeedRun, experiment: Experiment) -> str:
    """A seed's result in a line: when it reached the target, or how close it came."""
    target, unit = experiment.target_accuracy, experiment.unit
    if run.reached:
        return f"  seed {run.seed}: reached {target:g} at {run.value:,.4g} {unit}"
    return (
        f"  seed {run.seed}: did not reach {target:g} within the budget "
        f"(best {run.best_accuracy:.4f}; counted as {run.value:,.4g} {unit})"
    )


def compare(
    *,
    name: str,
    storage: optuna.storages.BaseStorage,
    objective: IterationsToTarget,
    fixed_space: ScheduleSpace,
    cyclical_space: ScheduleSpace | None = None,
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
    artifact_store: Any = None,
    family_spaces: dict[str, ScheduleSpace] | None = None,
    design: SequentialDesign | None = None,
) -> Comparison:
    """Run the comparison protocol (module docstring) and return its outcome; see
    :func:`optuna_clr.results.report.write_report` for the files and
    :func:`optuna_clr.results.dashboard.attach_comparison` for the dashboard. ``seeds`` should
    leave out ``tuning_seed``, the seed the objective tunes with (:func:`retrain_seeds`).
    Every retrained seed becomes a trial of study ``<name>-retrain``; the outcome is stored
    as record ``comparison`` (:mod:`optuna_clr.records`) of every study of the comparison.
    ``family_spaces`` replaces the one cyclical arm by one arm per family (study
    ``<name>-<family>``), each tuned with the same ``n_trials``: which family wins, not only
    whether a cyclical one beats the fixed LR; the speed-up is then left out. With a
    ``design``, ``seeds`` are the most it may use: the winners are retrained in the design's
    rounds (``seeds[:3]``, then 2 more at a time) until the fixed-versus-cyclical interval
    decides (without both arms, one round), and a resumed comparison continues the rounds from
    the seeds already stored."""
    say = progress or (lambda message: None)
    given: dict[str, ScheduleSpace | None] = {
        "fixed": fixed_space,
        **(family_spaces or {"cyclical": cyclical_space}),
    }
    if any(space is None for space in given.values()):
        raise TypeError("compare needs cyclical_space or family_spaces")
    spaces = cast(dict[str, ScheduleSpace], given)
    # every study is opened and checked before anything trains
    home = _open(storage, name, objective, base=name, say=say)
    retrained = _open(storage, name + RETRAIN_SUFFIX, objective, base=name, say=say)
    studies = {
        arm: _open(
            storage,
            f"{name}-{arm}",
            objective,
            base=name,
            say=say,
            sampler=make_sampler(arm),
            pruner=make_pruner(),
        )
        for arm in (spaces if n_trials else ())
    }
    # each seed's configuration is also a categorical param, so the dashboard's slice and
    # parallel-coordinate plots of study <name>-retrain set the configurations side by side
    labels = (*(spaces if n_trials else ()), *(baselines or {}))
    configuration = optuna.distributions.CategoricalDistribution(labels)
    tuned: dict[str, optuna.Study] = {}
    for arm, space in spaces.items():
        if n_trials == 0:
            break
        study = studies[arm]
        ensure_same_choices(study, space.distributions)
        study.set_user_attr("space", space.to_dict())
        study.set_user_attr("arm", arm)
        stored = RangeTestResult.from_study(study)
        if range_test is not None and (stored is None or stored.to_dict() != range_test.to_dict()):
            range_test.attach(study)  # the arm shows the test its space was narrowed with
        done = len(study.get_trials(deepcopy=False, states=_FINISHED))
        if done < n_trials:
            say(
                f"{arm} arm: {n_trials - done} trials to run ({done} done) "
                f"in study {study.study_name!r}"
            )
            objective.space = space
            _optimize(study, objective, n_trials - done, parallel, show_progress_bar)
        tuned[arm] = study

    retraining = _Retraining(retrained, configuration, objective.experiment, say, parallel)

    def retrained_arms(round_seeds: list[int]) -> list[Arm]:
        """Every configuration retrained with ``round_seeds`` (those stored are reused)."""
        arms = [_tuned_arm(study, arm, retraining, round_seeds) for arm, study in tuned.items()]
        for label, baseline in (baselines or {}).items():
            training = dict(baseline.training)
            what = f"baseline {label}: retraining"
            runs = retraining.runs(
                label, "baseline", baseline.schedule, training, round_seeds, what
            )
            arms.append(
                Arm(label, "baseline", baseline.schedule.to_dict(), runs, training=training)
            )
        return arms

    # seeds in rounds while the design says more are needed (one round without a design)
    looks = [n for n in design.looks() if n <= len(seeds)] if design else []
    for n in looks or [len(seeds)]:
        arms = retrained_arms(seeds[:n])
        fixed, cyclical = (next((a for a in arms if a.name == arm), None) for arm in ARMS)
        if not (fixed and cyclical):
            speedup = None  # the rounds decide fixed against cyclical; without them, one round
            break
        if design is None:
            speedup = paired_ratio(fixed.values, cyclical.values)
        else:
            spent = sum(arm.compute for arm in arms)
            speedup = design.decide(fixed.values, cyclical.values, compute=spent)
            if speedup["decision"] != "more seeds":
                break
            low, high = speedup["low"], speedup["high"]
            say(f"{n} seeds: the interval {low:.2f}-{high:.2f} includes 1, so more seeds")
    result = Comparison(
        name=name,
        unit=objective.unit,
        target_accuracy=objective.target_accuracy,
        budget=objective.budget,
        seeds=list(seeds[: len(arms[0].runs)] if arms else seeds),
        arms=arms,
        speedup=speedup,
        settings={**environment(objective.experiment), **(settings or {})},
        tuning_seed=tuning_seed,
    )
    # in every study of the comparison, so a baselines-only comparison can be reported too
    for study in [
        home,
        retrained,
        *(
            optuna.load_study(study_name=a.study_name, storage=storage)
            for a in arms
            if a.study_name
        ),
    ]:
        records.save(study, COMPARISON_ATTR, result.to_dict(), artifact_store=artifact_store)
    return result


_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _open(
    storage: optuna.storages.BaseStorage,
    study_name: str,
    objective: IterationsToTarget,
    *,
    base: str,
    say: Callable[[str], None],
    **kwargs: Any,
) -> optuna.Study:
    """A study of the comparison, refused when its trials were measured with other settings
    (:mod:`optuna_clr.study.fingerprint`); the retrained seeds' study is checked without the split
    seed, which its trials vary."""
    study = optuna.create_study(
        study_name=study_name, storage=storage, direction="minimize", load_if_exists=True, **kwargs
    )
    fingerprint = objective.fingerprint()
    if study_name.endswith(RETRAIN_SUFFIX):
        fingerprint.pop("split_seed")
    note = ensure_fingerprint(
        study,
        fingerprint,
        fix=(
            "to compare with the new settings, use another --study-name "
            f"(e.g. --study-name {base}-2), "
            "or put the old settings back"
        ),
    )
    if note:
        say(note)
    name_metric(study, objective)
    return study


def _optimize(
    study: optuna.Study,
    objective: IterationsToTarget,
    n_trials: int,
    parallel: int,
    show_progress_bar: bool,
) -> None:
    from optuna_clr.study.runner import optimize

    optimize(
        study, objective, n_trials=n_trials, parallel=parallel, show_progress_bar=show_progress_bar
    )


def _tuned_arm(study: optuna.Study, arm: str, retraining: _Retraining, seeds: list[int]) -> Arm:
    """The arm's best trial retrained with every seed, and what tuning it cost."""
    best = study.best_trial
    schedule = schedules.from_dict(cast(dict, records.trial_schedule(best)))
    what = f"{arm} arm: retraining trial {best.number}"
    runs = retraining.runs(arm, "tuned", schedule, {}, seeds, what)
    trials = study.get_trials(deepcopy=False, states=_FINISHED)
    return Arm(
        arm,
        "tuned",
        schedule.to_dict(),
        runs,
        study_name=study.study_name,
        trial_number=best.number,
        trials=len(trials),
        tuning_iterations=sum(int(t.user_attrs.get("iterations", 0)) for t in trials),
        tuning_seconds=sum(float(t.user_attrs.get("seconds", 0.0)) for t in trials),
    )


@dataclasses.dataclass
class _Retraining:
    """Where retrained seeds go (study ``<name>-retrain``, one trial each) and how they train:
    ``parallel`` seeds at a time (:meth:`Experiment.run_seeds`)."""

    study: optuna.Study
    configuration: optuna.distributions.CategoricalDistribution
    experiment: Experiment
    say: Callable[[str], None]
    parallel: int = 1

    def runs(
        self,
        label: str,
        kind: str,
        schedule: schedules.Schedule,
        training: dict[str, Any],
        seeds: list[int],
        what: str,
    ) -> list[SeedRun]:
        """``schedule`` retrained with every seed, each stored as a trial the moment it
        finishes; the seeds already trials for the same schedule, training overrides and setup
        (:func:`_key`) are not trained again."""
        experiment = self.experiment
        key = _key(experiment, schedule, training)
        runs = {
            t.user_attrs["seed"]: _run_of(t)
            for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.user_attrs.get("key") == key
        }
        missing = [s for s in seeds if s not in runs]
        if not missing:
            return [runs[s] for s in seeds]

        def store(seed: int, result: TrainResult) -> None:
            run = runs[seed] = SeedRun.from_result(seed, result, experiment)
            self.study.add_trial(
                _trial_of(run, experiment, label, kind, schedule, key, self.configuration)
            )
            self.say(_outcome(run, experiment))

        config = dataclasses.replace(experiment.config, **training)
        fused = fusable(schedule, config) is None
        together = min(self.parallel, len(missing)) if fused else 1
        how = f", {together} at a time" if together > 1 else ""
        self.say(f"{what}, {schedule.label()}, with seeds {missing}{how}")
        experiment.run_seeds(
            schedule, missing, overrides=training or None, parallel=self.parallel, on_done=store
        )
        return [runs[s] for s in seeds]


def _trial_of(
    run: SeedRun,
    experiment: Experiment,
    label: str,
    kind: str,
    schedule: schedules.Schedule,
    key: str,
    configuration: optuna.distributions.CategoricalDistribution,
) -> optuna.trial.FrozenTrial:
    """A retrained seed as a finished trial: its value, its curve as reports (as a tuning
    trial reports them) and short user attrs."""
    budget, target = experiment.budget, experiment.target_accuracy
    trial = optuna.trial.create_trial(
        value=run.value,
        # the seed a parameter too, so the dashboard's best trial reads as one seed of one
        # configuration, not as the answer
        params={"configuration": label, "seed": run.seed},
        distributions={"configuration": configuration, "seed": SEED_DISTRIBUTION},
        system_attrs={records.SCHEDULE: schedule.to_dict()},
        intermediate_values={
            int(step): reported_value(budget, target, accuracy) for step, accuracy in run.curve
        },
        user_attrs={
            "arm": label if kind == "tuned" else "baseline",
            "configuration": label,
            "seed": run.seed,
            "key": key,
            "family": schedule.family,
            "schedule": schedule.label(),
            "reached": run.reached,
            "iterations": run.iterations,
            "examples_seen": run.examples_seen,
            "best_accuracy": run.best_accuracy,
            "test_accuracy": run.test_accuracy,
            "seconds": run.seconds,
            "unit": experiment.unit,
            "target_accuracy": target,
            "budget": budget,
        },
    )
    # as long as it trained, so the dashboard's timeline shows it
    trial.datetime_start = cast(datetime.datetime, trial.datetime_complete) - datetime.timedelta(
        seconds=run.seconds
    )
    return trial


def _run_of(trial: optuna.trial.FrozenTrial) -> SeedRun:
    a = trial.user_attrs
    curve = [[step, accuracy] for step, accuracy in accuracy_curve(trial)]
    return SeedRun(
        a["seed"],
        a["reached"],
        float(cast(float, trial.value)),
        a["iterations"],
        a["examples_seen"],
        a["best_accuracy"],
        a["test_accuracy"],
        curve,
        a.get("seconds", 0.0),
    )


def _key(experiment: Experiment, schedule: schedules.Schedule, training: dict[str, Any]) -> str:
    """What decides a retrained seed's outcome besides the seed, hashed: a stored run counts
    only while the schedule, the training overrides and the setup are unchanged."""
    text = json.dumps(
        {"schedule": schedule.to_dict(), "training": training, "setup": _setup(experiment)},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _setup(experiment: Experiment) -> dict[str, Any]:
    """What decides a retrained seed's outcome besides the schedule and the seed, as JSON."""
    config = {
        k: v
        for k, v in dataclasses.asdict(experiment.config).items()
        if k not in ("seed", "device")
    }
    model = (
        experiment.model
        if isinstance(experiment.model, str)
        else getattr(experiment.model, "__name__", repr(experiment.model))
    )
    setup = {
        "task": experiment.task.name,
        "validation": experiment.validation,
        "model": model,
        "unit": experiment.unit,
        "budget": experiment.budget,
        "config": config,
    }
    return json.loads(json.dumps(setup, default=str))


def environment(experiment: Experiment) -> dict[str, Any]:
    """Device and versions, stated at the top of every report."""
    import torch

    device = str(experiment.device)
    if experiment.device.type == "cuda":
        device = torch.cuda.get_device_name(experiment.device)
    else:
        device = (
            f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{torch.get_num_threads()} threads)"
        )
    return {
        "device": device,
        "torch": torch.__version__,
        "optuna": optuna.__version__,
        "python": platform.python_version(),
    }


def stored_comparison(
    storage: optuna.storages.BaseStorage, name: str
) -> tuple[Comparison, RangeTestResult | None] | None:
    """The last comparison :func:`compare` stored for ``name`` and its range test (from an
    arm study, where the test narrowed the space, else from study ``name``)."""
    names = {
        s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
    }
    studies = {
        n: optuna.load_study(study_name=n, storage=storage)
        for n in [name, name + RETRAIN_SUFFIX, *(f"{name}-{arm}" for arm in ARMS)]
        if n in names
    }
    found = next(
        (
            records.load(s, COMPARISON_ATTR)
            for s in studies.values()
            if records.load(s, COMPARISON_ATTR) is not None
        ),
        None,
    )
    if found is None:
        return None
    tests = (
        RangeTestResult.from_study(studies[n])
        for n in [f"{name}-{arm}" for arm in ARMS] + [name]
        if n in studies
    )
    return Comparison.from_dict(found), next((t for t in tests if t is not None), None)
