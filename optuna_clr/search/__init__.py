"""Where to look: the LR range test, the prior it gives, the schedule space, the sampler and
the pruner.

Above :mod:`optuna_clr.training` on the data path: :mod:`~optuna_clr.search.range_test` runs
the test on an experiment, :mod:`~optuna_clr.search.prior` turns it into a distribution over
schedules, :mod:`~optuna_clr.search.space` is what a trial suggests,
:mod:`~optuna_clr.search.samplers` and :mod:`~optuna_clr.search.pruners` are the Optuna
components.
"""
