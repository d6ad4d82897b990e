"""Evaluation: agreement of predicted with manual SALT, mask metrics, longitudinal reports.

- :mod:`autosalt.evaluation.agreement`: the statistics (pure functions on arrays).
- :mod:`autosalt.evaluation.tables`: reading, checking and joining score tables.
- :mod:`autosalt.evaluation.evaluate`: ``autosalt evaluate`` (predicted vs manual scores: the
  page and its plots); its statistics are :mod:`autosalt.evaluation.evaluate_stats`.
- :mod:`autosalt.evaluation.masks`: ``autosalt evaluate-masks`` (folder vs folder of masks).
- :mod:`autosalt.evaluation.longitudinal` and :mod:`autosalt.evaluation.report`:
  ``autosalt report`` (patients over time and the cohort table).
- :mod:`autosalt.evaluation.html`: self-contained HTML with the plots embedded.
"""
