"""Steps 3 and 4 of the ``surface`` method: which way round a photo is, and its camera.

The pose search: among camera directions around a view's nominal one, keep the one under
which the canonical hairline, drawn on the fitted head, best explains where the photo's
scalp ends; top photos are tried both ways round, profiles mirrored and not, where the skin
cue does not settle it (see :mod:`autosalt.postprocess.surface` for the whole method).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from autosalt.postprocess.geometry import (
    OrthoCamera,
    camera_axes,
    canonical_is_scalp_xyz,
    cross3,
    lengths,
    silhouette_bases,
    transform,
)
from autosalt.postprocess.outline import Outline

#: Nominal camera elevation (deg above the horizontal) of profile and back photos, where the
#: pose search starts and which it prefers: clinic photos are usually taken from slightly
#: above. The nominal top photo looks straight down.
PROFILE_ELEVATION_DEG = 12.0
BACK_ELEVATION_DEG = 12.0
#: Azimuth (deg, 0 = nose, 90 = the patient's left) of the nominal camera of each side view.
VIEW_AZIMUTH_DEG = {"left": 90.0, "right": -90.0, "back": 180.0}
#: Pose search (deg): top-photo tilts from straight down (each at 8 headings); camera
#: elevations of profile and back photos; azimuth offsets of profile and back photos.
POSE_TOP_TILTS_DEG = (10.0, 20.0, 30.0)
POSE_ELEVATIONS_DEG = (-2.0, 8.0, 18.0, 28.0)
POSE_AZIMUTH_OFFSETS_DEG = (-10.0, 0.0, 10.0)
#: Agreement (fraction of head pixels) a pose must gain per degree away from the nominal one.
POSE_PRIOR_PER_DEG = 0.0003
POSE_REFINE_STEPS_DEG = (4.0, 2.0, 1.0, 0.5)
#: Bounds of the search (deg): clinic photos outside them are not what the views mean.
POSE_MAX_TOP_TILT_DEG = 36.0
POSE_ELEVATION_RANGE_DEG = (-8.0, 32.0)
POSE_MAX_AZIMUTH_OFFSET_DEG = 15.0
#: Agreement by which the opposite front/back orientation of a top photo must beat the cue's.
POSE_FLIP_MARGIN = 0.01


def nominal_toward(view: str) -> np.ndarray:
    """Unit vector (3,) from the head to the camera of a view, in the head frame."""
    profile, back = np.radians(PROFILE_ELEVATION_DEG), np.radians(BACK_ELEVATION_DEG)
    return {
        "top": np.array([0.0, 0.0, 1.0]),
        "left": np.array([np.cos(profile), 0.0, np.sin(profile)]),
        "right": np.array([-np.cos(profile), 0.0, np.sin(profile)]),
        "back": np.array([0.0, -np.cos(back), np.sin(back)]),
    }[view]


def view_camera(view: str, toward: np.ndarray | None = None) -> OrthoCamera:
    """The camera of a view from ``toward`` (default nominal): profiles and back with the head
    upright, top with the nose up."""
    up = np.array([0.0, 1.0, 0.0]) if view == "top" else np.array([0.0, 0.0, 1.0])
    return OrthoCamera.looking_from(nominal_toward(view) if toward is None else toward, up)


def _direction(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.array([np.sin(az) * np.cos(el), np.cos(az) * np.cos(el), np.sin(el)])


def pose_candidates(view: str) -> list[np.ndarray]:
    """Unit camera directions (3,) the pose search starts from for a view."""
    if view == "top":
        return [nominal_toward(view)] + [_direction(heading, 90.0 - tilt)
                                         for tilt in POSE_TOP_TILTS_DEG
                                         for heading in range(0, 360, 45)]
    base = VIEW_AZIMUTH_DEG[view]
    return [_direction(base + offset, elevation)
            for elevation in POSE_ELEVATIONS_DEG for offset in POSE_AZIMUTH_OFFSETS_DEG]


def model_map(view: str, right: np.ndarray, down: np.ndarray, disk_ref: np.ndarray,
               semi_axes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(model_basis, rotation), each (..., 2, 2), for cameras with axes ``right``, ``down``
    (..., 3): the silhouette basis of the head of ``semi_axes`` (3,) cm and the rotation of the
    fitted ellipse's unit disk that turns the disk's reference direction ``disk_ref`` (2,)
    (nose for top photos, head-up otherwise) onto the model's. Disk -> image plane (cm):
    model_basis @ rotation."""
    toward = -np.cross(right, down)
    model_basis = silhouette_bases(right, down, toward, semi_axes)
    axis = 1 if view == "top" else 2
    # The model's disk direction inv(model_basis) @ model_ref, up to the (positive) determinant.
    target_x = model_basis[..., 1, 1] * right[..., axis] - model_basis[..., 0, 1] * down[..., axis]
    target_y = model_basis[..., 0, 0] * down[..., axis] - model_basis[..., 1, 0] * right[..., axis]
    angle = np.arctan2(target_y, target_x) - np.arctan2(disk_ref[1], disk_ref[0])
    cos, sin = np.cos(angle), np.sin(angle)
    return model_basis, np.stack([np.stack([cos, -sin], axis=-1), np.stack([sin, cos], axis=-1)],
                                 axis=-2)


def _pose_allowed(view: str, toward: np.ndarray) -> bool:
    """Whether a camera direction lies within the range the pose search may reach."""
    # Scalar math: called for every pose tried.
    elevation = math.degrees(math.asin(min(max(float(toward[2]), -1.0), 1.0)))
    if view == "top":
        return 90.0 - elevation <= POSE_MAX_TOP_TILT_DEG
    base = VIEW_AZIMUTH_DEG[view]
    azimuth = math.degrees(math.atan2(float(toward[0]), float(toward[1])))
    offset = (azimuth - base + 180.0) % 360.0 - 180.0
    return (POSE_ELEVATION_RANGE_DEG[0] <= elevation <= POSE_ELEVATION_RANGE_DEG[1]
            and abs(offset) <= POSE_MAX_AZIMUTH_OFFSET_DEG)


class _PoseScorer:
    """How well the canonical hairline seen from camera directions explains a photo's scalp.

    The search scores ~100 directions on the same head pixels, so what does not depend on the
    direction is computed once: the pixels' coordinates in the fitted ellipse's unit disk
    (which are inside it does not depend on the direction, since the disk is only turned), and
    the quadratic terms of the ray-ellipsoid equation in them. Directions are scored in
    batches (the grid, the moves of a search step): numpy's cost per call dominates otherwise.

    Args:
        inverse: (2, 2) image px (relative to the fitted centre) -> the fitted ellipse's disk.
        ref: (2,) image reference direction. xy: (N, 2) px of head pixels (scalp or skin)
        relative to the fitted centre; is_scalp: (N,) True where they are scalp.
        semi_axes: (3,) cm, the head the hairline is drawn on.
    """

    def __init__(self, view: str, inverse: np.ndarray, ref: np.ndarray, xy: np.ndarray,
                 is_scalp: np.ndarray, semi_axes: np.ndarray) -> None:
        self.view, self.semi_axes, self.nominal = view, semi_axes, nominal_toward(view)
        self.image_up = np.array([0.0, 1.0, 0.0]) if view == "top" else np.array([0.0, 0.0, 1.0])
        self.disk_ref = inverse @ ref
        unit = transform(inverse, xy)
        inside = lengths(unit) < 0.97
        self.usable = int(inside.sum()) >= 20
        self.x, self.y = unit[inside, 0], unit[inside, 1]
        self.xx, self.xy2, self.yy = self.x * self.x, 2.0 * self.x * self.y, self.y * self.y
        self.is_scalp = is_scalp[inside]

    def scores(self, towards: np.ndarray) -> np.ndarray:
        """Per unit direction (K, 3): agreement (fraction of head pixels inside the outline
        whose scalp / not-scalp label the canonical hairline predicts) less
        ``POSE_PRIOR_PER_DEG`` per degree away from the nominal camera; -inf outside the
        search bounds or with too few pixels. Shape (K,)."""
        result = np.full(len(towards), -np.inf)
        allowed = [index for index, toward in enumerate(towards) if _pose_allowed(self.view, toward)]
        if not self.usable or not allowed:
            return result
        d = towards[allowed]
        right, down = camera_axes(d, self.image_up)
        model_basis, rotation = model_map(self.view, right, down, self.disk_ref, self.semi_axes)
        # Disk -> head frame: the ray of disk point u starts at m u and runs along d; on the
        # ellipsoid |m u + t d|_S = 1, a t^2 + 2 b t + c = 0 with b, c linear and quadratic in u.
        m = np.stack([right, down], axis=-1) @ (model_basis @ rotation)  # (K, 3, 2)
        shape = 1.0 / self.semi_axes ** 2
        a = (d * shape * d).sum(axis=1)[:, None]
        linear = (m * (shape * d)[:, :, None]).sum(axis=1)
        quadratic = np.swapaxes(m, 1, 2) @ (shape[:, None] * m)
        b = linear[:, :1] * self.x + linear[:, 1:] * self.y
        c = (quadratic[:, 0, 0, None] * self.xx + quadratic[:, 0, 1, None] * self.xy2
             + quadratic[:, 1, 1, None] * self.yy - 1.0)
        t = (-b + np.sqrt(np.maximum(b * b - a * c, 0.0))) / a  # the camera-side root
        predicted = canonical_is_scalp_xyz(*(m[:, k, 0, None] * self.x + m[:, k, 1, None] * self.y
                                             + t * d[:, k, None] for k in range(3)))
        agreement = np.count_nonzero(predicted == self.is_scalp, axis=1) / len(self.x)
        degrees = np.degrees(np.arccos(np.clip(d @ self.nominal, -1.0, 1.0)))
        result[allowed] = agreement - POSE_PRIOR_PER_DEG * degrees
        return result


def _coarse_pose(view: str, inverse: np.ndarray, ref: np.ndarray, head_xy: np.ndarray,
                 head_scalp: np.ndarray, semi_axes: np.ndarray) -> tuple[np.ndarray, float]:
    """Best start direction (3,) of the grid and its score, on every 4th head pixel."""
    scorer = _PoseScorer(view, inverse, ref, head_xy[::4], head_scalp[::4], semi_axes)
    candidates = pose_candidates(view)
    best, best_score = nominal_toward(view), -np.inf
    for toward, value in zip(candidates, scorer.scores(np.array(candidates))):
        if value > best_score + 1e-9:
            best, best_score = toward, value
    return best, best_score


#: Pattern-search moves: the 4 axis and 4 diagonal neighbours.
_MOVES = np.array([(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)], float)


def _refine_pose(view: str, inverse: np.ndarray, ref: np.ndarray, start: np.ndarray,
                 head_xy: np.ndarray, head_scalp: np.ndarray, semi_axes: np.ndarray
                 ) -> OrthoCamera:
    """Pattern search on the sphere of directions from ``start``, steps shrinking."""
    scorer = _PoseScorer(view, inverse, ref, head_xy, head_scalp, semi_axes)
    best = start
    best_score = scorer.scores(best[None, :])[0]
    if not np.isfinite(best_score):
        return view_camera(view)
    for step in POSE_REFINE_STEPS_DEG:
        for _ in range(2):
            helper = np.array([1.0, 0.0, 0.0]) if abs(best[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
            first = cross3(best, helper)
            first /= np.linalg.norm(first)
            second = cross3(best, first)
            centre, improved = best, False
            moved = centre + np.tan(np.radians(step)) * (_MOVES[:, :1] * first + _MOVES[:, 1:] * second)
            moved /= np.linalg.norm(moved, axis=1, keepdims=True)
            for toward, value in zip(moved, scorer.scores(moved)):
                if value > best_score + 1e-9:
                    best, best_score, improved = toward, value, True
            if not improved:
                break
    return view_camera(view, best)


@dataclass(frozen=True)
class Reading:
    """One way of reading a photo: which way it is turned, and the camera found for it.

    ``inverse``: (2, 2) image px (relative to the fitted centre) -> the fitted ellipse's unit
    disk, with the photo un-mirrored if it is read as mirrored; ``ref``: (2,) image direction
    of the nose (top photos) or of the head's up (others); ``camera``: the pose found.
    """

    inverse: np.ndarray
    ref: np.ndarray
    camera: OrthoCamera


@dataclass(frozen=True)
class ViewFit:
    """A photo's outline and its readings on a head: one, or two averaged when the front or
    the face side cannot be told. ``notes`` are for a human; ``ambiguous`` is the note added
    when the two readings of the view's own area differ."""

    outline: Outline
    readings: tuple[Reading, ...]
    notes: tuple[str, ...]
    ambiguous: str


def find_readings(outline: Outline, semi_axes: np.ndarray) -> ViewFit:
    """Steps 3-4 of the module docstring: which way round the photo is, and its camera, on
    the head of ``semi_axes`` (3,) cm."""
    view, ellipse = outline.view, outline.ellipse
    head_xy, head_scalp, face = outline.head_xy, outline.head_scalp, outline.face
    notes: list[str] = []
    ambiguous = ""  # the note for a front/back or mirroring guess, if one is averaged
    coarse: dict[tuple, tuple[np.ndarray, float]] = {}  # (reference, mirrored) -> coarse pose
    if view == "top":
        # The nose's image direction. The skin cue can mistake the neck (camera behind) or an
        # ear for the forehead, so the opposite way is tried too and wins if the hairline fits
        # it clearly better; without a cue, both ways round the long axis are averaged unless
        # one fits clearly better.
        first = outline.ref
        inverse = np.linalg.inv(ellipse.basis())
        for ref in (first, -first):
            coarse[(tuple(ref), False)] = _coarse_pose(view, inverse, ref, head_xy, head_scalp,
                                                       semi_axes)
        scores = [coarse[(tuple(first), False)][1], coarse[(tuple(-first), False)][1]]
        if scores[1] > scores[0] + POSE_FLIP_MARGIN:
            refs = [-first]
            notes.append("front of the head taken opposite to the skin cue (the hairline fits "
                         "that way)" if face is not None else
                         "front of the head found from the hairline alone")
        elif face is None and scores[0] > scores[1] + POSE_FLIP_MARGIN:
            refs = [first]
            notes.append("front of the head found from the hairline alone")
        elif face is None:
            ambiguous = "front of the head not found (no forehead skin): both ways averaged"
            refs = [first, -first]
        else:
            refs = [face]
        mirror_guesses = [False]
    else:
        refs = [outline.ref]
        # The model's face side: +right is the nose for a left profile.
        expected = np.sign(view_camera(view).right[1]) if view != "back" else 0.0
        if view == "back":
            mirror_guesses = [False]  # symmetric: mirroring only swaps the two rear edges
        elif face is None:
            ambiguous = "face side not found: both mirrorings averaged"
            mirror_guesses = [False, True]
        else:
            mirror_guesses = [bool(np.sign(face[0]) != expected)]
    readings = []
    for ref in refs:
        for mirrored in mirror_guesses:
            flip = np.diag([-1.0, 1.0]) if mirrored else np.eye(2)
            # A mirrored photo is un-mirrored about the ellipse centre: the un-mirrored
            # ellipse's basis is flip B flip, so px -> its unit disk is inv(flip B flip) flip =
            # flip inv(B). ``ref`` stays in this photo's pixels, mapped by the same ``inverse``.
            inverse = flip @ np.linalg.inv(ellipse.basis())
            key = (tuple(ref), mirrored)
            if key not in coarse:
                coarse[key] = _coarse_pose(view, inverse, ref, head_xy, head_scalp, semi_axes)
            camera = _refine_pose(view, inverse, ref, coarse[key][0], head_xy, head_scalp,
                                  semi_axes)
            readings.append(Reading(inverse, ref, camera))
    return ViewFit(outline, tuple(readings), tuple(notes), ambiguous)


