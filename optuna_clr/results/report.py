"""A comparison or a study as files: Markdown, CSV and matplotlib figures.

:func:`write_report` writes a :class:`~optuna_clr.results.compare.Comparison` (``report.md``,
``seeds.csv`` and PNG figures) and :func:`write_study_report` one study's summary (the best
trial of each family, ``trials.csv``, the best trials' curves and the range test). Nothing
here trains or talks to optuna-dashboard (:mod:`optuna_clr.results.dashboard` does).
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
import re
import statistics
import textwrap
from typing import Any
from typing import cast
from typing import TYPE_CHECKING

import optuna
from optuna.trial import TrialState

from optuna_clr import records
from optuna_clr import schedules
from optuna_clr.results.figures import describe_comparison
from optuna_clr.results.figures import describe_study
from optuna_clr.results.figures import render_matplotlib
from optuna_clr.results.statistics import holm
from optuna_clr.results.statistics import paired_p_value
from optuna_clr.results.statistics import paired_ratio
from optuna_clr.results.statistics import verdict
from optuna_clr.search.range_test import RangeTestResult


if TYPE_CHECKING:
    from optuna_clr.results.compare import Comparison


def folder_name(name: str, suffix: str = "") -> str:
    """The report folder of study ``name``: the name itself where it is a plain file name,
    else its safe form (``/``, ``..`` and other characters replaced) and a hash of the name,
    so that no study name writes outside ``--out`` and two names never share a folder.

    Example:

        .. testcode::

            from optuna_clr.results.report import folder_name

            print(folder_name("digits", "-compare"))   # digits-compare
            print(folder_name("../../etc"))            # __.._etc-<8 hex digits>
    """
    safe = re.sub(r"[^A-Za-z0-9._+=-]", "_", name)
    if safe != name or safe.startswith(".") or not safe:
        digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        safe = f"_{safe.lstrip('.')}-{digest}" if safe.startswith(".") else f"{safe}-{digest}"
    return safe + suffix


def format_value(value: float, unit: str) -> str:
    """A value in the objective's unit as the tables show it: seconds to 0.01, counts whole."""
    return f"{value:.2f}" if unit == "seconds" else f"{value:,.0f}"


def figures(comparison: Comparison, range_test: RangeTestResult | None = None) -> dict[str, Any]:
    """Matplotlib figures of a comparison, by name: learning curves, schedules, iterations to
    target, and the range test (:func:`optuna_clr.results.figures.describe_comparison`, drawn)."""
    described = describe_comparison(comparison, range_test)
    return {name: render_matplotlib(info) for name, info in described.items()}


# --- report files ---


def markdown(comparison: Comparison, images: dict[str, str]) -> str:
    """The comparison as Markdown, one H1; ``images`` maps figure names to paths or URLs."""
    c, unit = comparison, comparison.unit
    lines = [f"# {c.name}: CLR versus a tuned fixed LR", "", *headline(c), *against_fixed(c)]
    if c.tuning_seed is not None:
        lines += [
            f"Every configuration is retrained with seeds {', '.join(map(str, c.seeds))} "
            "(each fixes the validation split, initial weights and batch order). The arms "
            f"were tuned with seed {c.tuning_seed}, which is left out, so no winner is "
            "scored on the validation split it was picked on.",
            "",
        ]
    budget = f"{format_value(c.budget, unit)} {unit}"
    lines += [
        *arm_table(c),
        "",
        f"\\* not reached within the budget ({budget}): the censored "
        "value budget x (1 + target - best accuracy) is counted.",
        "",
    ]
    lines += compute_table(c)
    for name, title in (
        ("curves", "Validation accuracy"),
        ("schedules", "Schedules"),
        ("speedup", "Speed-up over the fixed LR, seed by seed"),
        ("iterations", f"{unit.capitalize()} to target"),
        ("range_test", "LR range test"),
    ):
        if name in images:
            lines += [f"## {title}", "", f"![{name}]({images[name]})", ""]
    lines += ["## Setup", "", "| | |", "|---|---|"]
    setup = {
        "target accuracy": c.target_accuracy,
        "unit": unit,
        "budget": format_value(c.budget, unit),
        "seeds": c.seeds,
        **c.settings,
    }
    lines += [f"| {k} | {v} |" for k, v in setup.items()]
    return "\n".join(lines) + "\n"


def headline(comparison: Comparison) -> list[str]:
    """The verdict, the speed-up with its interval, and the warnings, as Markdown lines."""
    c, unit = comparison, comparison.unit
    fixed, cyclical = c.arm("fixed"), c.arm("cyclical")
    if fixed and cyclical is None:
        return _family_headline(comparison)
    if not (fixed and cyclical and c.speedup):
        return []
    sp = c.speedup

    def needed(arm: Any) -> str:
        reached = sum(r.reached for r in arm.runs)
        return (
            f"{format_value(arm.mean, unit)} {unit} on average ({reached} of "
            f"{len(arm.runs)} seeds reached {c.target_accuracy:g})"
        )

    lines = [
        f"**Verdict: {verdict(sp)}.**",
        "",
        f"The tuned cyclical schedule needed {needed(cyclical)}, the tuned fixed LR "
        f"{needed(fixed)}: a speed-up of {sp['ratio']:.2f}x ({_interval(sp)}). "
        f"{in_words(sp, unit)}.",
        "",
    ]
    if not all(r.reached for arm in (fixed, cyclical) for r in arm.runs):
        lines += [
            "Seeds that did not reach the target count with their censored value, so the "
            "means are bounds, not measurements.",
            "",
        ]
    cycles = cyclical.cycles_to_target(c.target_accuracy)
    if cycles and max(cycles) < 1:
        s = schedules.from_dict(cyclical.schedule)
        lines += [
            f"**Warning: the cyclical winner completed no cycle.** `{s.label()}` "
            f"had completed at most {max(cycles):.2f} of a cycle when it reached the target "
            f"({len(cycles)} of {len(cyclical.runs)} seeds reached it; its first cycle ends "
            f"at iteration {s.next_cycle_end(0):,}), so it won as a ramp, not as a cycle.",
            "",
        ]
    return lines


def against_fixed(comparison: Comparison) -> list[str]:
    """Every configuration against the tuned fixed LR, as Markdown lines: which reaches the
    target fastest at the estimate, and which differ from the fixed LR with Holm's correction
    over all of them, with what each cost in total (tuning plus retraining)."""
    c, unit = comparison, comparison.unit
    fixed = c.arm("fixed")
    others = [a for a in c.arms if a is not fixed]
    if fixed is None or len(others) < 2:
        return []
    p = {a.name: paired_p_value(fixed.values, a.values) for a in others}
    # after rounds of seeds, the last look's share of the 5%, so the lines agree with the verdict
    sequential = bool(c.speedup and "decision" in c.speedup)
    alpha = 1 - c.speedup["level"] if c.speedup and sequential else 0.05
    rejected = holm(p, alpha=alpha)
    share = f", at the last look's share {alpha:.2g} of it" if sequential else ""
    fastest = min(c.arms, key=lambda a: statistics.geometric_mean(a.values))
    lines = [
        f"**Fastest at the estimate: {fastest.name}** (geometric mean "
        f"{format_value(statistics.geometric_mean(fastest.values), unit)} {unit} over "
        f"{len(c.seeds)} seeds). Against the tuned fixed LR, with Holm's correction over "
        f"{len(others)} configurations (family-wise error at most 5%{share}):",
        "",
    ]
    for arm in others:
        sp = paired_ratio(fixed.values, arm.values)
        if rejected[arm.name]:
            said = "faster than" if sp["ratio"] > 1 else "slower than"
        else:
            said = "not told apart from"
        pv = "-" if p[arm.name] is None else f"{p[arm.name]:.3g}"
        lines.append(
            f"- **{arm.name}** {said} the fixed LR: speed-up {sp['ratio']:.2f}x "
            f"(p = {pv}); total compute {arm.compute:,} iterations"
        )
    return [*lines, f"- fixed: total compute {fixed.compute:,} iterations", ""]


def _family_headline(comparison: Comparison) -> list[str]:
    """One arm per family: each tuned arm's speed-up over the fixed LR, fewest first."""
    c, unit = comparison, comparison.unit
    fixed = c.arm("fixed")
    tuned = [a for a in c.arms if a.kind == "tuned" and a.name != "fixed"]
    if fixed is None or not tuned:
        return []
    lines = [
        f"Each family tuned with {tuned[0].trials} trials, then retrained; {unit} to "
        f"{c.target_accuracy:g} against the tuned fixed LR ({format_value(fixed.mean, unit)} "
        "on average):",
        "",
    ]
    for arm in sorted(tuned, key=lambda a: a.mean):
        sp = paired_ratio(fixed.values, arm.values)
        lines.append(
            f"- **{arm.name}**: {format_value(arm.mean, unit)} on average, a speed-up of "
            f"{sp['ratio']:.2f}x ({_interval(sp)}): "
            f"{verdict(sp, faster=arm.name, slower='fixed')}"
        )
    return [*lines, ""]


def arm_table(comparison: Comparison) -> list[str]:
    """One row per configuration: schedule, every seed, cycles to target, test accuracy and
    the total compute of its answer (tuning trials plus retrained seeds)."""
    c, unit = comparison, comparison.unit
    lines = [
        f"| configuration | schedule | {unit} to target, mean ± std | median | every seed "
        "| reached | cycles to target | test accuracy | total compute (iterations) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for arm in c.arms:
        seeds = ", ".join(
            format_value(r.value, unit) + ("" if r.reached else "\\*") for r in arm.runs
        )
        test = arm.test_accuracy()
        test_s = f"{test[0]:.4f} ± {test[1]:.4f}" if test else "-"
        where = (
            f" (trial {arm.trial_number} of {arm.trials})"
            if arm.kind == "tuned"
            else " (baseline)"
        )
        sched = schedules.from_dict(arm.schedule).label()
        sched += f" with {arm.training}" if arm.training else ""
        cycles = _cycles(arm.cycles_to_target(c.target_accuracy))
        lines.append(
            f"| {arm.name}{where} | `{sched}` | {format_value(arm.mean, unit)} ± "
            f"{format_value(arm.std, unit)} | "
            f"{format_value(statistics.median(arm.values), unit)} | {seeds} | "
            f"{sum(r.reached for r in arm.runs)}/{len(arm.runs)} | "
            f"{cycles} | {test_s} | {arm.compute:,} |"
        )
    return lines


def compute_table(comparison: Comparison) -> list[str]:
    """What each configuration cost: tuning trials, iterations and wall seconds, and the
    same for retraining it with every seed."""
    lines = [
        "## Compute",
        "",
        "| configuration | tuning trials | iterations trained (tuning) | "
        "seconds (tuning) | iterations trained (retraining) | seconds (retraining) |",
        "|---|---|---|---|---|---|",
    ]
    for arm in comparison.arms:
        tuning = (
            [f"{arm.trials}", f"{arm.tuning_iterations:,}", f"{arm.tuning_seconds:.1f}"]
            if arm.kind == "tuned"
            else ["-", "-", "-"]
        )
        lines.append(
            f"| {arm.name} | {' | '.join(tuning)} | "
            f"{arm.retrain_iterations:,} | {arm.retrain_seconds:.1f} |"
        )
    return lines + [""]


def _cycles(cycles: list[float] | None) -> str:
    """Cycles to target as the table shows them: the range over the seeds that reached it."""
    if cycles is None:
        return "-"
    if not cycles:
        return "none reached"
    low, high = min(cycles), max(cycles)
    return f"{high:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}-{high:.2f}"


def _short(label: str, training: dict[str, Any] | None, width: int = 60) -> str:
    """A schedule and its own optimizer settings in at most ``width`` characters, for the
    terminal (the report gives them whole)."""
    said = [str(v) if k == "optimizer" else f"{k}={v}" for k, v in (training or {}).items()]
    text = " + ".join([label, *said])
    return text if len(text) <= width else text[: width - 3] + "..."


def text_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> list[str]:
    """``rows`` as a plain-text table for a terminal: ``columns`` are (heading, key) pairs."""
    cells = [[h for h, _ in columns]] + [[str(r[k]) for _, k in columns] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return [lines[0], "  ".join("-" * w for w in widths), *lines[1:]]


def terminal_summary(comparison: Comparison, *, width: int = 119) -> list[str]:
    """The comparison for a terminal, within ``width`` columns: the report's headline (verdict,
    speed-up in numbers and words, warnings) as plain text, then one short row per
    configuration.

    Args:
        comparison: what :func:`optuna_clr.results.compare.compare` returned.
        width: the widest line.

    Returns:
        The lines, without newlines.
    """
    c, unit = comparison, comparison.unit
    lines: list[str] = []
    for line in [*headline(c), *against_fixed(c)]:
        plain = line.replace("**", "").replace("`", "")
        indent = "  " if plain.startswith("- ") else ""
        lines += textwrap.wrap(plain, width, subsequent_indent=indent) or [""]
    rows = []
    for arm in c.arms:
        sched = schedules.from_dict(arm.schedule).label()
        rows.append(
            {
                "arm": arm.name,
                "schedule": _short(sched, arm.training),
                "mean": format_value(arm.mean, unit),
                "median": format_value(statistics.median(arm.values), unit),
                "reached": f"{sum(r.reached for r in arm.runs)}/{len(arm.runs)}",
                "cycles": _cycles(arm.cycles_to_target(c.target_accuracy)),
            }
        )
    columns = [
        ("configuration", "arm"),
        ("schedule", "schedule"),
        ("mean", "mean"),
        ("median", "median"),
        ("reached", "reached"),
        ("cycles", "cycles"),  # to the target, on the seeds that reached it
    ]
    seeds = ", ".join(map(str, c.seeds))
    title = f"{unit.capitalize()} to {c.target_accuracy:g} validation accuracy (seeds {seeds}):"
    return [*lines, *textwrap.wrap(title, width), *text_table(rows, columns)]


def study_attrs(comparison: Comparison, *, retrain: bool = False) -> dict[str, str]:
    """The comparison in a few study user attrs, which optuna-dashboard shows on a study's page
    (its notes are a page of their own, and its compare page shows neither): the verdict, and
    for the study of retrained seeds what it is and each configuration's summary.

    Args:
        comparison: what :func:`optuna_clr.results.compare.compare` returned.
        retrain: the attrs of study ``<name>-retrain``.

    Returns:
        Attr names to one-line values; the names sort as they should be read.
    """
    c, unit = comparison, comparison.unit
    fixed = c.arm("fixed")
    verdicts = []
    for arm in c.arms:
        if fixed is not None and arm.kind == "tuned" and arm is not fixed:
            # the comparison's own interval for the cyclical arm (sequential after rounds)
            own = c.speedup if arm.name == "cyclical" else None
            sp = own or paired_ratio(fixed.values, arm.values)
            verdicts.append(
                f"{arm.name} against fixed: speed-up {sp['ratio']:.2f}x, "
                f"{verdict(sp, faster=arm.name)}"
            )
    seeds = f"{len(c.seeds)} seeds; the note has the report"
    attrs = {"verdict": f"{'; '.join(verdicts) or 'none'} ({seeds})"}
    if len(c.arms) > 1:
        fastest = min(c.arms, key=lambda a: statistics.geometric_mean(a.values))
        mean = format_value(statistics.geometric_mean(fastest.values), unit)
        attrs["verdict"] += f"; fastest at the estimate: {fastest.name} ({mean} {unit})"
    if not retrain:
        return attrs
    attrs["about"] = (
        "every seed each configuration was retrained with, one trial per seed: not a search, "
        "so its best trial is one seed's luck; the verdict and the note are the answer"
    )
    for arm in c.arms:
        reached = sum(r.reached for r in arm.runs)
        attrs[f"arm: {arm.name}"] = (
            f"{schedules.from_dict(arm.schedule).label()}: {format_value(arm.mean, unit)} {unit} "
            f"on average, median {format_value(statistics.median(arm.values), unit)}, "
            f"{reached} of {len(arm.runs)} seeds reached {c.target_accuracy:g}"
        )
    return attrs


def in_words(speedup: dict[str, Any], unit: str, faster: str = "cyclical schedule") -> str:
    """The speed-up said in words, whichever way it points, since "0.82x" read alone is easily
    taken for a gain."""
    ratio = speedup["ratio"]
    if ratio >= 1:
        return (
            f"At the estimate the {faster} was faster: the fixed LR needed {ratio:.2f}x its "
            f"{unit}, seed for seed (geometric mean)"
        )
    return (
        f"At the estimate the {faster} was slower: it needed {1 / ratio:.2f}x the fixed LR's "
        f"{unit}, seed for seed (geometric mean)"
    )


def _interval(speedup: dict[str, Any]) -> str:
    if speedup.get("low") is None:
        return "one seed, so no interval: retrain with --seeds 2 or more for one"
    level = speedup.get("confidence", speedup["level"])  # a sequential look's share, if any
    span = f"{level:.0%} interval {speedup['low']:.2f}-{speedup['high']:.2f}"
    method = speedup.get("method", "paired percentile bootstrap")
    return f"{span}; {method}, {speedup.get('n', '?')} seeds"


def write_report(
    comparison: Comparison, folder: str | Path, *, range_test: RangeTestResult | None = None
) -> Path:
    """Write ``report.md``, the PNG figures and ``seeds.csv`` into ``folder``; returns the report
    path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    images = {}
    for name, fig in figures(comparison, range_test).items():
        fig.savefig(folder / f"{name}.png", dpi=100)
        images[name] = f"{name}.png"
    with open(folder / "seeds.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "configuration",
                "kind",
                "seed",
                "reached",
                f"{comparison.unit}_to_target_or_censored",
                "iterations_trained",
                "examples_seen",
                "best_validation_accuracy",
                "test_accuracy",
                "schedule",
            ]
        )
        for arm in comparison.arms:
            for r in arm.runs:
                writer.writerow(
                    [
                        arm.name,
                        arm.kind,
                        r.seed,
                        r.reached,
                        r.value,
                        r.iterations,
                        r.examples_seen,
                        r.best_accuracy,
                        r.test_accuracy,
                        repr(schedules.from_dict(arm.schedule)),
                    ]
                )
    path = folder / "report.md"
    path.write_text(markdown(comparison, images))
    return path


def write_trials_csv(study: optuna.Study, path: str | Path) -> Path:
    """One row per trial: number, state, value, reached, iterations, family and parameters."""
    trials = study.get_trials(deepcopy=False)
    names = sorted({k for t in trials for k in t.params})
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "number",
                "state",
                "value",
                "reached",
                "iterations",
                "best_accuracy",
                "test_accuracy",
                *names,
            ]
        )
        for t in trials:
            a = t.user_attrs
            writer.writerow(
                [
                    t.number,
                    t.state.name,
                    t.value,
                    a.get("reached"),
                    a.get("iterations"),
                    a.get("best_accuracy"),
                    a.get("test_accuracy"),
                    *[t.params.get(n) for n in names],
                ]
            )
    return Path(path)


def family_table(study: optuna.Study) -> list[dict[str, Any]]:
    """Per family: trials, pruned, and the best completed trial (best families first)."""
    rows: dict[str, dict[str, Any]] = {}
    for t in study.get_trials(deepcopy=False):
        family = t.params.get("family", (records.trial_schedule(t) or {}).get("family", "?"))
        row = rows.setdefault(
            family,
            {
                "family": family,
                "trials": 0,
                "pruned": 0,
                "value": None,
                "trial": "-",
                "reached": False,
                "test_accuracy": None,
                "schedule": "-",
            },
        )
        row["trials"] += 1
        row["pruned"] += t.state == TrialState.PRUNED
        if t.state == TrialState.COMPLETE and (row["value"] is None or t.value < row["value"]):
            schedule = schedules.from_dict(cast(dict, records.trial_schedule(t)))
            steps = trained(t)
            effective = schedule.effective(steps)
            row.update(
                value=t.value,
                trial=t.number,
                reached=t.user_attrs.get("reached"),
                test_accuracy=t.user_attrs.get("test_accuracy"),
                schedule=schedule.label(),
                effective=None if effective is schedule else effective.label(),
                trained=steps,
            )
    return sorted(rows.values(), key=lambda r: (r["value"] is None, r["value"] or 0))


def trained(trial: optuna.trial.FrozenTrial) -> int:
    """The updates a trial's answer rests on: to the target where it reached it."""
    attrs = trial.user_attrs
    if attrs.get("reached") and attrs.get("iterations_to_target") is not None:
        return int(attrs["iterations_to_target"])
    return int(attrs.get("iterations", 1))


def family_notes(study: optuna.Study) -> list[str]:
    """What the family table cannot say in a cell: how the trials were spread over the
    families, and each best trial whose LR never changed before it stopped (a step decay that
    reached the target before its first drop was, in effect, a fixed LR).

    Args:
        study: a study of :class:`~optuna_clr.IterationsToTarget` trials.

    Returns:
        Sentences, one per line, for under the table (the CLI's and the study report's).
    """
    rows = family_table(study)
    counts = sorted((r["trials"] for r in rows), reverse=True)
    lines = (
        [
            f"{sum(counts)} trials over {len(rows)} families ({counts[-1]} to {counts[0]} each); "
            "a family with few trials is barely tuned (`optuna-clr compare` tunes fixed against "
            "cyclical, each with its own trials)."
        ]
        if rows
        else []
    )
    for row in rows:
        if row.get("effective"):
            lines.append(
                f"{row['family']}*: its best trial stopped at {row['trained']:,} iterations, "
                f"before its LR first changed: in effect {row['effective']}."
            )
    return lines


def study_unit(study: optuna.Study) -> str:
    """What the study's values count (iterations, examples or seconds), as its trials recorded."""
    return next(
        (t.user_attrs["unit"] for t in study.get_trials(deepcopy=False) if "unit" in t.user_attrs),
        "iterations",
    )


def family_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """:func:`family_table` formatted for display: the value in the study's unit, marked when
    the target was not reached, and the test accuracy; the CLI's summary and the report's
    table both show these."""
    unit = study_unit(study)
    rows = []
    for row in family_table(study):
        value = (
            "-"
            if row["value"] is None
            else format_value(row["value"], unit) + ("" if row["reached"] else " (not reached)")
        )
        test = "-" if row["test_accuracy"] is None else f"{row['test_accuracy']:.4f}"
        family = row["family"] + ("*" if row.get("effective") else "")
        rows.append({**row, "family": family, "value": value, "test_accuracy": test})
    return rows


def study_markdown(
    study: optuna.Study, images: dict[str, str], comparison: Comparison | None = None
) -> str:
    """A study's summary: the best trial of each family, the figures and, given the
    ``comparison`` of this study, its verdict and table."""
    unit = study_unit(study)
    states = [t.state for t in study.trials]
    lines = [
        f"# {study.study_name}",
        "",
        f"{len(states)} trials: {states.count(TrialState.COMPLETE)} complete, "
        f"{states.count(TrialState.PRUNED)} pruned, "
        f"{states.count(TrialState.FAIL)} failed.",
        "",
        f"| family | trials (pruned) | best {unit} to target | trial | test accuracy | schedule |",
        "|---|---|---|---|---|---|",
    ]
    for row in family_rows(study):
        lines.append(
            f"| {row['family']} | {row['trials']} ({row['pruned']}) | {row['value']} | "
            f"{row['trial']} | {row['test_accuracy']} | `{row['schedule']}` |"
        )
    lines += ["", *(f"{line}\n" for line in family_notes(study))]
    if comparison is not None:
        arms = ", ".join(f"`{a.study_name}`" for a in comparison.arms if a.study_name)
        lines += [
            "## CLR versus a tuned fixed LR",
            "",
            *headline(comparison),
            *arm_table(comparison),
            "",
            f"The whole report is the note of the arm studies ({arms}) and of "
            f"`{comparison.name}-retrain`, whose trials are the retrained seeds.",
            "",
        ]
    for name, path in images.items():
        lines += [f"![{name}]({path})", ""]
    return "\n".join(lines)


def study_figures(study: optuna.Study, *, top: int = 5) -> dict[str, Any]:
    """Matplotlib figures of a study, by name: the validation curves of the best ``top``
    trials (with their schedules) and the range test
    (:func:`optuna_clr.results.figures.describe_study`, drawn)."""
    return {name: render_matplotlib(info) for name, info in describe_study(study, top=top).items()}


def write_study_report(
    study: optuna.Study, folder: str | Path, *, comparison: Comparison | None = None
) -> Path:
    """``report.md``, figures and ``trials.csv`` for one study (with the verdict of its
    ``comparison``, if given)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    images = {}
    for name, fig in study_figures(study).items():
        fig.savefig(folder / f"{name}.png", dpi=100)
        images[name] = f"{name}.png"
    write_trials_csv(study, folder / "trials.csv")
    path = folder / "report.md"
    path.write_text(study_markdown(study, images, comparison))
    return path
