"""Hair-loss patterns on the head surface and how they change between visits.

A pattern maps unit directions of the head frame to a loss fraction in [0, 1] (1 = no
terminal hair, 0.5 = half density). ``severity`` scales the pattern for one visit: 0 is full
regrowth, 1 the pattern as drawn, above 1 worse; so one patient's visits share one pattern.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from autosalt.synth.head import Head, azimuth_elevation, unit_directions_from_angles

#: Pattern names written to ``truth.csv`` and how often :func:`random_pattern` draws each.
PATTERN_WEIGHTS: dict[str, float] = {
    "none": 0.07, "single_patch": 0.12, "multi_patch": 0.15, "hairline_patch": 0.09,
    "ophiasis": 0.12, "diffuse": 0.20, "mixed": 0.15, "totalis": 0.10,
}
#: Trajectories of severity over visits (``weeks -> severity`` is interpolated on these).
TRAJECTORIES: dict[str, tuple[tuple[float, float], ...]] = {
    "stable": ((0, 1.0), (52, 1.0)),
    "regrowth": ((0, 1.0), (8, 0.55), (16, 0.15), (24, 0.0), (52, 0.0)),
    "partial_response": ((0, 1.0), (12, 0.6), (52, 0.45)),
    "relapse": ((0, 1.0), (8, 0.35), (12, 0.1), (20, 0.7), (52, 0.9)),
    "worsening": ((0, 0.6), (12, 1.0), (52, 1.25)),
}
VISIT_WEEKS: tuple[int, ...] = (0, 4, 8, 12, 16, 24, 36, 52)
_EDGE_RAD = 0.025  # soft edge width of patches (rad, about 2.5 mm on a head)


@dataclass
class Patch:
    """An irregular round patch: centre direction, angular radius, edge harmonics, loss level."""

    centre: np.ndarray  # (3,) unit vector
    radius: float  # rad
    level: float  # loss fraction inside
    harmonics: np.ndarray  # (K, 2): amplitude, phase for k = 2..K+1

    def loss(self, directions: np.ndarray, radius_scale: float) -> np.ndarray:
        if radius_scale <= 0:
            return np.zeros(directions.shape[:-1], dtype=np.float32)
        cosine = np.clip(directions @ self.centre, -1.0, 1.0)
        distance = np.arccos(cosine)
        helper = np.array([0.0, 0.0, 1.0]) if abs(self.centre[2]) < 0.9 else np.array([1.0, 0, 0])
        east = np.cross(helper, self.centre)
        east /= np.linalg.norm(east)
        north = np.cross(self.centre, east)
        angle = np.arctan2(directions @ north, directions @ east)
        boundary = np.ones_like(angle)
        for k, (amplitude, phase) in enumerate(self.harmonics, start=2):
            boundary += amplitude * np.cos(k * angle + phase)
        boundary *= self.radius * radius_scale
        inside = np.clip((boundary - distance) / _EDGE_RAD + 0.5, 0.0, 1.0)
        return (self.level * inside).astype(np.float32)


@dataclass
class LossPattern:
    """One patient's pattern; :meth:`loss` evaluates it for one visit's severity."""

    kind: str
    patches: list[Patch] = field(default_factory=list)
    diffuse_level: float = 0.0
    diffuse_waves: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))
    ophiasis_width: float = 0.0  # deg above the hairline at the nape
    ophiasis_extent: float = 0.0  # deg of azimuth from straight back the band reaches
    totalis_level: float = 0.0
    spared_tufts: list[Patch] = field(default_factory=list)

    def loss(self, directions: np.ndarray, head: Head, severity: float) -> np.ndarray:
        """Loss fraction (...,) in [0, 1] at unit directions (..., 3); scalp masking is the caller's."""
        severity = max(0.0, float(severity))
        loss = np.zeros(directions.shape[:-1], dtype=np.float32)
        if severity == 0.0:
            return loss
        radius_scale = min(severity, 1.6) ** 0.5
        for patch in self.patches:
            loss = np.maximum(loss, patch.loss(directions, radius_scale))
        if self.diffuse_level > 0:
            modulation = np.ones(directions.shape[:-1], dtype=np.float32)
            for wave in self.diffuse_waves:
                modulation += wave[3] * np.cos(wave[4] * (directions @ wave[:3]) * np.pi)
            diffuse = np.clip(self.diffuse_level * severity * modulation, 0.0, 1.0)
            loss = 1.0 - (1.0 - loss) * (1.0 - diffuse)  # independent thinning on top of patches
        if self.ophiasis_width > 0:
            azimuth, elevation = azimuth_elevation(directions)
            from_back = 180.0 - np.abs(azimuth)
            taper = np.clip((self.ophiasis_extent - from_back) / 25.0, 0.0, 1.0)
            height = elevation - head.hairline_elevation(azimuth)
            width = self.ophiasis_width * min(severity, 1.5) * taper
            band = np.clip((width - height) / 3.0 + 0.5, 0.0, 1.0) * (width > 0)
            loss = np.maximum(loss, (0.95 * band).astype(np.float32))
        if self.totalis_level > 0:
            level = np.float32(min(1.0, self.totalis_level * severity))
            spared = np.zeros_like(loss)
            for tuft in self.spared_tufts:
                spared = np.maximum(spared, tuft.loss(directions, max(0.2, 1.6 - severity)))
            loss = np.maximum(loss, level * (1.0 - spared))
        return np.clip(loss, 0.0, 1.0)


def _random_scalp_direction(rng: np.random.Generator, head: Head, near_hairline: bool) -> np.ndarray:
    for _ in range(1000):
        azimuth = rng.uniform(-180, 180)
        hairline = float(head.hairline_elevation(np.array([azimuth]))[0])
        if near_hairline:
            elevation = hairline + rng.uniform(3, 14)
        else:
            # Uniform on the sphere above the hairline: sin(elevation) uniform.
            elevation = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(hairline + 4)), 1.0)))
        direction = unit_directions_from_angles(np.array(azimuth), np.array(elevation))
        if head.is_scalp(direction[None])[0]:
            return direction
    raise RuntimeError("could not place a patch on the scalp")


def _random_patch(rng: np.random.Generator, head: Head, radius_range: tuple[float, float],
                  near_hairline: bool = False, level: float | None = None) -> Patch:
    harmonics = np.stack([rng.uniform(0, 0.22, 3) / np.arange(1, 4), rng.uniform(0, 2 * np.pi, 3)],
                         axis=1)
    return Patch(centre=_random_scalp_direction(rng, head, near_hairline),
                 radius=np.radians(rng.uniform(*radius_range)),
                 level=rng.uniform(0.88, 1.0) if level is None else level, harmonics=harmonics)


def _diffuse_waves(rng: np.random.Generator, count: int = 4) -> np.ndarray:
    directions = rng.normal(size=(count, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return np.concatenate([directions, rng.uniform(0.05, 0.15, (count, 1)),
                           rng.uniform(1.0, 3.0, (count, 1))], axis=1)


def random_pattern(rng: np.random.Generator, head: Head, kind: str | None = None) -> LossPattern:
    """Draw a pattern of the given kind (or one by ``PATTERN_WEIGHTS``) for ``head``."""
    if kind is None:
        names = list(PATTERN_WEIGHTS)
        probabilities = np.array(list(PATTERN_WEIGHTS.values()))
        kind = str(rng.choice(names, p=probabilities / probabilities.sum()))
    if kind not in PATTERN_WEIGHTS:
        raise ValueError(f"unknown pattern {kind!r}; choose from {sorted(PATTERN_WEIGHTS)}")
    pattern = LossPattern(kind)
    if kind == "single_patch":
        pattern.patches = [_random_patch(rng, head, (6, 28))]
    elif kind == "multi_patch":
        pattern.patches = [_random_patch(rng, head, (4, 18)) for _ in range(rng.integers(2, 7))]
    elif kind == "hairline_patch":
        pattern.patches = [_random_patch(rng, head, (5, 14), near_hairline=True)
                           for _ in range(rng.integers(1, 4))]
    elif kind == "ophiasis":
        pattern.ophiasis_width = rng.uniform(8, 24)
        pattern.ophiasis_extent = rng.uniform(80, 140)
    elif kind == "diffuse":
        pattern.diffuse_level = rng.uniform(0.25, 0.8)
        pattern.diffuse_waves = _diffuse_waves(rng)
    elif kind == "mixed":
        pattern.diffuse_level = rng.uniform(0.15, 0.5)
        pattern.diffuse_waves = _diffuse_waves(rng)
        pattern.patches = [_random_patch(rng, head, (5, 20)) for _ in range(rng.integers(1, 4))]
    elif kind == "totalis":
        pattern.totalis_level = rng.uniform(0.92, 1.0)
        pattern.spared_tufts = [_random_patch(rng, head, (3, 8), level=1.0)
                                for _ in range(rng.integers(0, 4))]
    return pattern


def stratified_kind(seed: int, patient_index: int) -> str:
    """The pattern of patient ``patient_index`` when patterns are dealt in proportion.

    Patients drawn independently give small sets a skewed mix of patterns by chance (25
    patients may hold no diffuse head at all), and a model fine-tuned or validated on such a
    set learns or is judged on a different mix than its test set. Dealing the kinds by a
    smooth weighted round robin over :data:`PATTERN_WEIGHTS` keeps every prefix of patients
    within one patient of the weights' proportions; the seed only orders ties, so different
    seeds deal the kinds in different orders.
    """
    if patient_index < 0:
        raise ValueError(f"patient index must be >= 0, got {patient_index}")
    names = list(PATTERN_WEIGHTS)
    order = np.random.default_rng([seed, 7919]).permutation(len(names))
    names = [names[i] for i in order]
    weights = np.array([PATTERN_WEIGHTS[name] for name in names])
    credit = np.zeros(len(names))
    for _ in range(patient_index + 1):
        credit += weights
        chosen = int(np.argmax(credit))  # first maximum: ties go by the seeded order
        credit[chosen] -= weights.sum()
    return names[chosen]


def severity_at(trajectory: str, week: float) -> float:
    """Severity multiplier of a trajectory at a week (linear between its knots)."""
    knots = np.array(TRAJECTORIES[trajectory])
    return float(np.interp(week, knots[:, 0], knots[:, 1]))
