"""Which model scored a table, and what it was validated on: the caveat box of every report.

A report's numbers are only as good as the model behind them, so both reports open with a
box naming the model and what it was validated on. The model ids come from the scores
table's ``model`` column, else from the ``run.json`` that ``autosalt infer`` writes beside
``scores.csv``; what the model was validated on from that ``run.json`` (``model.validated_on``)
where the run recorded it, else from the bundled model's card (:data:`MODEL_CARD_VALIDATION`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from autosalt.evaluation.html import HtmlReport

#: Said when the run does not record what its model was validated on (models trained before
#: checkpoints carried it, a manual table): the model card is where to look.
MODEL_CARD_VALIDATION = ("not recorded with the scores; see the model card (models/MODEL_CARD.md "
                         "for the bundled model); no clinical validation")


@dataclass(frozen=True)
class Provenance:
    models: list[str]  # model ids that scored the table; [] for a manual table
    validated_on: str


def read_provenance(scores_path: Path, table_models: list[str]) -> Provenance:
    """The models behind ``scores_path`` and what they were validated on."""
    model: dict = {}
    run_file = scores_path.parent / "run.json"
    if run_file.is_file():
        try:
            model = json.loads(run_file.read_text(encoding="utf-8")).get("model") or {}
        except (OSError, ValueError, AttributeError):
            model = {}  # an unreadable run.json says nothing; the table still does
        model = model if isinstance(model, dict) else {}
    models = table_models or ([str(model["id"])] if model.get("id") else [])
    return Provenance(models, str(model.get("validated_on") or MODEL_CARD_VALIDATION))


def caveat_box(report: HtmlReport, provenance: Provenance) -> None:
    """The box at the top of a report: the model, what it was validated on, what that means."""
    if provenance.models:
        model = "Scored by " + ", ".join(provenance.models) + "."
        validated = f"Validated on: {provenance.validated_on}."
    else:
        model = "No model named: the scores table has no 'model' column and no run.json beside it."
        validated = f"The bundled model was validated on {MODEL_CARD_VALIDATION}."
    report.note_box("About these numbers", [
        model, validated,
        "Do not base clinical or trial decisions on them until the model has been checked "
        "against your own raters on your own photos (autosalt evaluate)."])
