"""What scoring one visit gives: per-view percents, or why a view has none."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class VisitValues:
    """Per-view percents (None where a view could not be scored) and why."""

    values: dict[str, float | None] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # make the visit unscorable
    flags: list[str] = field(default_factory=list)  # ask a human to look
