"""What scoring one visit gives: per-view percents, or why a view has none, and what a human
may want to know about each view."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Observation:
    """Something a check or the scoring noticed about one view: a short ``code`` (for the
    ``quality_<view>`` columns; docs/scoring.md lists them) and a sentence naming the file."""

    view: str
    code: str
    reason: str


@dataclass
class VisitValues:
    """Per-view percents (None where a view could not be scored) and why."""

    values: dict[str, float | None] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # make the visit unscorable
    observations: list[Observation] = field(default_factory=list)

    def observe(self, view: str, code: str, reason: str) -> None:
        self.observations.append(Observation(view, code, reason))


def split_observations(observations: Iterable[Observation], review_codes: Collection[str]
                       ) -> tuple[list[str], list[str]]:
    """(flags, notes): the reasons whose code asks for a review (the visit becomes
    ``flagged``), and the others, kept for the record without flagging the visit. An
    observation without a reason (a code another view's reason already explains) adds none."""
    flags, notes = [], []
    for observation in observations:
        if observation.reason:
            (flags if observation.code in review_codes else notes).append(observation.reason)
    return flags, notes
