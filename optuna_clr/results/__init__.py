"""What a finished study says: the CLR-versus-fixed comparison, its statistics, the figures,
the Markdown report and what optuna-dashboard shows.

The top of the data path below the CLI: :mod:`~optuna_clr.results.compare` runs the
protocol, :mod:`~optuna_clr.results.statistics` gives its intervals,
:mod:`~optuna_clr.results.figures` describes every figure once for the two renderers,
:mod:`~optuna_clr.results.report` writes reports and :mod:`~optuna_clr.results.dashboard`
attaches them to studies.
"""
