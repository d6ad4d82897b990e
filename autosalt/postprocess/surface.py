"""The ``surface`` method: each view's percent measured on the head's surface (contract 1).

For a visit's photos:

1. fit an ellipse to each photo's scalp silhouette (scalp pixels next to background or
   ignore);
2. fit the head's proportions to all the outlines: a photo's scale is unknown, but its
   outline's aspect (long over short axis, signed by whether the long axis runs along the
   head's up, or on the top photo its nose) is the head's silhouette seen from the view's
   nominal camera: width against length on the top photo, height against length on the
   profiles, height against width on the back. Width / length and height / length are fitted
   by least squares to every outline (the length stays canonical: only proportions matter),
   then clamped to a plausible range (``WIDTH_TO_LENGTH_RANGE``,
   ``HEIGHT_TO_LENGTH_RANGE``). With fewer than two usable photos (one cannot tell a rounder
   head from a tilted camera; a top photo alone does not see the height at all) or outlines
   that no head explains, the canonical head's proportions (``CANONICAL_SEMI_AXES``) stay;
3. decide which way the head faces in each picture: profile photos may be mirrored, so the
   face side is found from where the non-scalp skin (class 1) lies against the scalp; top
   photos may be turned any way, so the front is where forehead skin lies inside the outline
   (ears and neck stick out of it and do not count), unless the hairline fits the opposite
   way clearly better; without a cue, both ways are averaged;
4. find each camera's direction: among directions around the view's nominal one (the top
   photo tilted up to 36 deg any way; profiles and back from -8 to 32 deg above the
   horizontal and 15 deg either side), keep the one under which the canonical hairline (a
   function of the direction from the skull centre), drawn on the fitted head, best explains
   where the photo's scalp ends (scalp vs face/ear skin inside the outline), with a small
   preference for the nominal direction;
5. map each image affinely onto the fitted head's silhouette seen from that direction, and
   cast an orthographic ray per scalp pixel: a head-frame point, its normal, and the scalp
   surface the pixel covers (cm^2, growing as 1/cos of the angle between normal and view
   near the silhouette);
6. give each point to its SALT area by the contract's boundaries, recomputed for the fitted
   head (the top plane leaving 40% of its scalp above, the back wedge 24%), whichever photo
   it came from.

Points seen by several photos are blended, not double counted: a point's weight in photo v is
cos(normal, v) over the sum of the same over all photos, so across photos it adds to one.

When a photo cannot be fitted (scalp too small, head cut by the frame, a silhouette that is
no ellipse, large holes), its view falls back to the ``pixel`` value and the reason is
flagged; its pixels then feed no other area, nor the proportions.

Everything is numpy (OpenCV only to reduce large masks to the working size); inputs are never
modified.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import label

from autosalt.contract import CLASS_SKIN, VIEWS
from autosalt.postprocess.geometry import (
    CANONICAL_SEMI_AXES,
    Ellipse,
    FitError,
    OrthoCamera,
    area_boundaries,
    camera_axes,
    canonical_is_scalp_xyz,
    cast_rays,
    cross3,
    fit_ellipse,
    lengths,
    silhouette_bases,
    silhouette_basis,
    transform,
)
from autosalt.postprocess.pixel import (
    EmptyScalpError,
    pixel_loss_fraction,
    pixel_view_percent,
    scalp_pixels,
)
from autosalt.postprocess.visit import VisitValues

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
POSE_SAMPLES = 2000  # head pixels used to score each pose
#: Agreement by which the opposite front/back orientation of a top photo must beat the cue's.
POSE_FLIP_MARGIN = 0.01
#: An unknown front/back (top) or face side (profile) is flagged when the two readings of the
#: view's own area differ by more than this (points); both are averaged either way.
AMBIGUITY_FLAG_POINTS = 2.0
#: Largest area weight, as 1/cos of this angle: the silhouette rim is unreliable.
MAX_RIM_ANGLE_DEG = 87.0
#: Exponent of cos(normal, view) in the blending of photos that see the same point.
BLEND_POWER = 1.0

#: Head proportions the fit may reach, width / length and height / length (semi-axes x / y and
#: z / y): adult heads run from long (0.70) to round (0.90) and the vertex-to-chin height is
#: ~1.1-1.3 lengths; a little room beyond, a sphere included.
WIDTH_TO_LENGTH_RANGE = (0.65, 1.0)
HEIGHT_TO_LENGTH_RANGE = (0.95, 1.45)
#: Spread (log ratio) of a photo's outline aspect about the fitted head's, and of the prior
#: about the canonical proportions: weak, so it only holds what the photos do not observe.
OUTLINE_ASPECT_SD = 0.06
PROPORTION_PRIOR_SD = 0.3
PROPORTION_ITERATIONS = 4
#: The proportions are fitted only from at least this many fitted photos (one photo's aspect
#: cannot tell a taller head from a camera further above), and kept only when the outlines'
#: aspects agree with the fitted head's within this RMS (log ratio; 0.04 or less on 90% of
#: the synthetic benchmark's visits); otherwise the canonical head is used.
MIN_PROPORTION_VIEWS = 2
MAX_PROPORTION_RESIDUAL = 0.1

# Fit-quality limits (fractions): beyond them the view falls back to the pixel method.
MIN_SCALP_FRACTION = 0.005  # of the image
MAX_FRAME_CUT = 0.2  # of the fitted ellipse's perimeter outside the image
INLIER_RESIDUAL = 0.04  # |normalised radius - 1| of a silhouette point on the fitted ellipse
MAX_SILHOUETTE_OUTLIERS = 0.35  # of silhouette points off the fit
MIN_ARC_COVERAGE = 0.4  # of the directions around the ellipse centre holding silhouette points
MAX_SCALP_OUTSIDE = 0.08  # of scalp pixels outside the fitted ellipse (normalised radius > 1.05)
MAX_HOLES = 0.1  # of the head: background or ignore pixels enclosed by it
MIN_AXIS_RATIO = 0.45
MIN_FACE_PIXELS = 30  # class-1 pixels needed to tell where the face is
FOREHEAD_INSIDE_SHARE = 0.3  # top photos: a skin patch this much inside the outline is forehead


class PoorFit(ValueError):
    """A photo's geometry cannot be trusted; the message says why."""


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


def _model_map(view: str, right: np.ndarray, down: np.ndarray, disk_ref: np.ndarray,
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
        model_basis, rotation = _model_map(self.view, right, down, self.disk_ref, self.semi_axes)
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
class SurfaceSamples:
    """Scalp pixels of one photo on the head: points (N, 3) cm, normals (N, 3), surface
    areas (N,) cm^2, loss fractions (N,), and the photo's camera."""

    points: np.ndarray
    normals: np.ndarray
    areas: np.ndarray
    loss: np.ndarray
    camera: OrthoCamera
    weight: float = 1.0  # < 1 when the orientation is unknown and both guesses are kept


def _outside_head(head: np.ndarray) -> np.ndarray:
    """Boolean (H, W): pixels off the head and connected to the image border through such
    pixels (4-neighbours), i.e. not ``binary_fill_holes(head)``; one labelling pass instead
    of the fill's repeated dilation (which costs ~8x more on a 512x512 mask)."""
    labels, _ = label(~head)
    touches_border = np.zeros(labels.max() + 1, dtype=bool)
    for border in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        touches_border[border] = True
    touches_border[0] = False  # label 0 is the head itself
    return touches_border[labels]


def _silhouette_edge(scalp: np.ndarray, head: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """Boolean (H, W): pixels on the head's outer scalp outline.

    Scalp pixels (or holes enclosed by the head: clips, unlabelled spots) with a 4-neighbour
    that is ``outside`` the head; pixels on the image border do not count (the frame is not
    the head's outline). ``head``: scalp or skin; ``outside``: from :func:`_outside_head`.
    """
    scalp = scalp | (~outside & ~head)
    edge = np.zeros_like(scalp)
    inner = scalp[1:-1, 1:-1]
    edge[1:-1, 1:-1] = inner & (outside[:-2, 1:-1] | outside[2:, 1:-1] | outside[1:-1, :-2]
                                | outside[1:-1, 2:])
    return edge


def _normalised(ellipse: Ellipse, xy: np.ndarray) -> np.ndarray:
    """Coordinates (N, 2) in the ellipse's unit disk."""
    return transform(np.linalg.inv(ellipse.basis()), xy - ellipse.centre)


def _check_fit(ellipse: Ellipse, silhouette: np.ndarray, image_shape: tuple[int, int],
               scalp_xy: np.ndarray, holes: int) -> None:
    """Raise PoorFit when the ellipse does not describe the head in this photo.

    ``image_shape``: (H, W) px. ``holes``: count of background or ignore pixels enclosed by
    the head (clips, unlabelled parts); occluders reaching in from the frame are not
    enclosed, they show up in the silhouette residual.
    """
    height, width = image_shape
    major, minor = ellipse.semi_axes
    if minor / major < MIN_AXIS_RATIO:
        raise PoorFit(f"scalp silhouette too elongated for a head (axis ratio {minor / major:.2f})")
    angles = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    perimeter = ellipse.centre + np.stack([np.cos(angles), np.sin(angles)], 1) @ ellipse.basis().T
    cut = np.mean((perimeter[:, 0] < 0) | (perimeter[:, 0] > width) | (perimeter[:, 1] < 0)
                  | (perimeter[:, 1] > height))
    if cut > MAX_FRAME_CUT:
        raise PoorFit(f"head cut by the frame ({100 * cut:.0f}% of its outline outside the photo)")
    hidden = holes / max(holes + len(scalp_xy), 1)
    if hidden > MAX_HOLES:
        raise PoorFit(f"{100 * hidden:.0f}% of the head is hidden or unlabelled")
    unit = _normalised(ellipse, silhouette)
    residual = np.abs(lengths(unit) - 1.0)
    outliers = float(np.mean(residual > INLIER_RESIDUAL))
    if outliers > MAX_SILHOUETTE_OUTLIERS:
        raise PoorFit(f"scalp outline is not elliptic ({100 * outliers:.0f}% of it off the fit)")
    unit = unit[residual <= INLIER_RESIDUAL]
    sectors = np.unique((np.arctan2(unit[:, 1], unit[:, 0]) // (np.pi / 18)).astype(int))
    if len(sectors) / 36 < MIN_ARC_COVERAGE:
        raise PoorFit(f"scalp outline seen over only {10 * len(sectors)} deg of the head")
    unit = _normalised(ellipse, scalp_xy)
    outside = np.mean(unit[:, 0] ** 2 + unit[:, 1] ** 2 > 1.05 ** 2)
    if outside > MAX_SCALP_OUTSIDE:
        raise PoorFit(f"{100 * outside:.0f}% of the scalp lies outside the fitted head outline")


def _face_direction(view: str, ellipse: Ellipse, mask: np.ndarray, scalp_xy: np.ndarray
                    ) -> np.ndarray | None:
    """Image direction (2,) from the head centre towards the face, or None without a cue.

    Profiles: class-1 skin near the head (face, ear, neck) against the scalp: the face pulls
    it forward; the ear sits near the middle. Top photos: skin *inside* the head outline is
    forehead or face; ears and the neck (seen when the camera leans back) stick out of the
    outline, so skin patches mostly outside it are not counted.
    """
    ys, xs = np.nonzero(mask == CLASS_SKIN)
    skin_xy = np.stack([xs + 0.5, ys + 0.5], 1)
    unit = _normalised(ellipse, skin_xy)
    radius = lengths(unit)
    size = ellipse.semi_axes[0]
    if view == "top":
        # Forehead: skin patches lying within the outline. Ears and the neck stick out of it
        # (and an ear sits on either side), so patches mostly outside do not vote.
        labels, _ = label(mask == CLASS_SKIN)
        ids = labels[ys, xs]
        inside = radius < 1.0
        inside_share = (np.bincount(ids, inside) / np.maximum(np.bincount(ids), 1))[ids]
        forehead = inside & (inside_share >= FOREHEAD_INSIDE_SHARE)
        if forehead.sum() < MIN_FACE_PIXELS:
            return None
        cue = skin_xy[forehead].mean(0) - ellipse.centre
        major = np.array([np.cos(ellipse.angle), np.sin(ellipse.angle)])
        if ellipse.semi_axes[1] / ellipse.semi_axes[0] < 0.93:  # elongated: front-back is the major axis
            return major * np.sign(cue @ major) if abs(cue @ major) > 0.01 * size else None
    else:
        near = radius < 1.15
        if near.sum() < MIN_FACE_PIXELS:
            return None
        cue = skin_xy[near].mean(0) - scalp_xy.mean(0)
        cue = np.array([cue[0], 0.0])  # profiles: the face is to one side
    if np.linalg.norm(cue) < 0.03 * size:
        return None
    return cue / np.linalg.norm(cue)


def _radial_average_factor(radius: np.ndarray, half_pixel: np.ndarray, on_rim: np.ndarray
                           ) -> np.ndarray:
    """Mean of 1/sqrt(1 - r^2) over a pixel's radial extent, divided by its centre value.

    A sphere's area factor 1/cos grows without bound at the rim; averaging it over the pixel
    (exactly, for a sphere) makes the weights integrate to the visible surface area. Pixels
    ``on_rim`` (outermost scalp pixels) also carry the sliver out to the silhouette that no
    pixel centre falls in: a quarter of the surface seen lies within 3% of the rim.
    """
    r0 = np.clip(radius - half_pixel, 0.0, 1.0)
    r1 = np.where(on_rim, 1.0, np.clip(radius + half_pixel, 0.0, 1.0))
    own = np.where(on_rim, 2 * half_pixel * radius, (np.clip(radius + half_pixel, 0.0, 1.0) ** 2
                                                      - r0 ** 2) / 2)
    mean = (np.sqrt(1 - r0 ** 2) - np.sqrt(1 - r1 ** 2)) / np.maximum(own, 1e-12)
    return mean * np.sqrt(np.maximum(1 - radius ** 2, 1e-12))


@dataclass(frozen=True)
class Outline:
    """What one photo's masks give before any camera is found (step 1 of the module doc).

    ``ellipse``: the fitted scalp outline; ``face``: (2,) image direction towards the face,
    or None without a cue; ``head_xy`` (M, 2) px relative to the ellipse centre and
    ``head_scalp`` (M,): the head pixels (scalp or skin) that score camera poses, True where
    scalp; ``scalp_xy`` (N, 2) px: scalp pixel centres, with their loss fractions ``loss``
    (N,) and ``on_edge`` (N,) True on the outline.
    """

    view: str
    ellipse: Ellipse
    face: np.ndarray | None
    head_xy: np.ndarray
    head_scalp: np.ndarray
    scalp_xy: np.ndarray
    loss: np.ndarray
    on_edge: np.ndarray

    @property
    def ref(self) -> np.ndarray:
        """(2,) image direction of the nose (top photos: the skin cue, else the long axis,
        either way round) or of the head's up (others: image up)."""
        if self.view != "top":
            return np.array([0.0, -1.0])
        return self.face if self.face is not None else np.array([np.cos(self.ellipse.angle),
                                                                np.sin(self.ellipse.angle)])


def fit_outline(view: str, mask: np.ndarray, loss_map: np.ndarray | None) -> Outline:
    """Step 1 of the module docstring for one photo, and its face cue. Raises PoorFit.

    Args:
        view: contract view name.
        mask: (H, W) uint8 class ids. loss_map: (H, W) float in [0, 1] or None.
    """
    scalp = scalp_pixels(mask)
    if scalp.sum() < max(MIN_SCALP_FRACTION * mask.size, 50):
        raise PoorFit(f"scalp too small ({100 * scalp.sum() / mask.size:.2f}% of the photo)")
    ys, xs = np.nonzero(scalp)
    scalp_xy = np.stack([xs + 0.5, ys + 0.5], axis=1)
    loss = pixel_loss_fraction(mask, loss_map)[ys, xs].astype(np.float64)
    head = scalp | (mask == CLASS_SKIN)
    outside = _outside_head(head)
    edge = _silhouette_edge(scalp, head, outside)
    edge_ys, edge_xs = np.nonzero(edge)
    silhouette = np.stack([edge_xs + 0.5, edge_ys + 0.5], axis=1)
    try:
        fitted = fit_ellipse(silhouette)
        # Refit without the outliers (fingers, hair tufts), tightening towards the inlier band.
        for _ in range(3):
            unit = _normalised(fitted, silhouette)
            residual = np.abs(lengths(unit) - 1.0)
            keep = residual <= max(INLIER_RESIDUAL, 2.5 * float(np.median(residual)))
            fitted = fit_ellipse(silhouette[keep])
    except FitError as error:
        raise PoorFit(str(error)) from error
    # Edge pixel centres lie half a pixel inside the outline between them and the outside.
    ellipse = Ellipse(fitted.centre, fitted.semi_axes + 0.5, fitted.angle)
    _check_fit(ellipse, silhouette, mask.shape, scalp_xy, int((~outside & ~head).sum()))
    # Head pixels (scalp or skin) scoring the camera poses: where the scalp ends is the cue.
    # Every k-th row: the same pixels whichever way round the photo is (mirrored profiles).
    head_ys, head_xs = np.nonzero(head)
    stride = int(np.ceil(len(head_ys) / POSE_SAMPLES))
    keep_rows = head_ys % stride == 0
    head_ys, head_xs = head_ys[keep_rows], head_xs[keep_rows]
    head_xy = np.stack([head_xs + 0.5, head_ys + 0.5], axis=1) - ellipse.centre
    return Outline(view, ellipse, _face_direction(view, ellipse, mask, scalp_xy), head_xy,
                   scalp[head_ys, head_xs], scalp_xy, loss, edge[ys, xs])


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


def view_samples(fit: ViewFit, semi_axes: np.ndarray) -> list[SurfaceSamples]:
    """Step 5 of the module docstring: each reading's scalp pixels on the head of
    ``semi_axes`` (3,) cm, weighted 1 / the number of readings."""
    outline = fit.outline
    samples = []
    for reading in fit.readings:
        camera = reading.camera
        # image px (relative to centre) -> unit disk of the model
        model_basis, rotation = _model_map(outline.view, camera.right, camera.down,
                                           reading.inverse @ reading.ref, semi_axes)
        to_unit = rotation @ reading.inverse
        unit = transform(to_unit, outline.scalp_xy - outline.ellipse.centre)
        radius = lengths(unit)
        unit *= (np.minimum(radius, 0.999) / np.maximum(radius, 1e-12))[:, None]
        radius = np.minimum(radius, 0.999)
        points, normals = cast_rays(camera, semi_axes, transform(model_basis, unit))
        cosine = np.clip(transform(camera.toward[None, :], normals)[:, 0], 1e-6, 1.0)
        cm2_per_px = abs(np.linalg.det(model_basis @ to_unit))
        # Half a pixel in normalised radius: half the length of the radius's image gradient,
        # to_unit^T (unit / radius) (1 / 2R on a circle of R pixels).
        direction = unit / np.maximum(radius, 1e-9)[:, None]
        gradient = transform(to_unit.T, direction)
        half_pixel = 0.5 * lengths(gradient)
        on_rim = outline.on_edge & (radius + 3 * half_pixel > 1.0)
        area = cm2_per_px / cosine * _radial_average_factor(radius, half_pixel, on_rim)
        area = np.minimum(area, cm2_per_px / np.cos(np.radians(MAX_RIM_ANGLE_DEG)))
        samples.append(SurfaceSamples(points, normals, area, outline.loss, camera,
                                      1.0 / len(fit.readings)))
    return samples


def _ambiguity_notes(fit: ViewFit, samples: list[SurfaceSamples], semi_axes: np.ndarray
                     ) -> list[str]:
    """The view's notes, plus its ``ambiguous`` note where the readings' values of its own
    area differ by more than ``AMBIGUITY_FLAG_POINTS``: flag the guess only where it matters."""
    notes = list(fit.notes)
    if len(samples) > 1:
        values = [_own_area_percent(fit.outline.view, sample, semi_axes) for sample in samples]
        spread = max(values) - min(values)
        if spread > AMBIGUITY_FLAG_POINTS:
            notes.append(f"{fit.ambiguous} (the two readings of this view differ by {spread:.1f} "
                         "points)")
    return notes


def reconstruct_view(view: str, mask: np.ndarray, loss_map: np.ndarray | None,
                     semi_axes: np.ndarray = CANONICAL_SEMI_AXES
                     ) -> tuple[list[SurfaceSamples], list[str]]:
    """One photo's scalp pixels on the head of ``semi_axes`` (3,) cm (one sample set, or two
    half-weight sets when the face side cannot be told), plus notes for a human. Raises
    PoorFit.

    Args:
        view: contract view name.
        mask: (H, W) uint8 class ids. loss_map: (H, W) float in [0, 1] or None.
    """
    fit = find_readings(fit_outline(view, mask, loss_map), semi_axes)
    samples = view_samples(fit, semi_axes)
    return samples, _ambiguity_notes(fit, samples, semi_axes)


def _own_area_percent(view: str, samples: SurfaceSamples, semi_axes: np.ndarray) -> float:
    """Percent loss of the photo's points that fall in the view's own SALT area (0 if none)."""
    own = area_boundaries(semi_axes).area_index(samples.points, semi_axes) == VIEWS.index(view)
    area = float(samples.areas[own].sum())
    return 100.0 * float((samples.areas * samples.loss)[own].sum()) / area if area > 0 else 0.0


def _signed_log_aspect(basis: np.ndarray, ref: np.ndarray) -> float:
    """log(major / minor) of the ellipse {basis q : |q| <= 1}, positive when its major axis is
    within 45 deg of ``ref`` (2,) and negative otherwise: an outline's shape along the head's
    up (profiles, back) or nose (top), whatever the roll, continuous through the circle."""
    eigenvalues, vectors = np.linalg.eigh(basis @ basis.T)
    aspect = 0.5 * np.log(eigenvalues[1] / eigenvalues[0])
    cosine = abs(vectors[:, 1] @ ref) / np.linalg.norm(ref)
    return float(aspect if cosine >= np.sqrt(0.5) else -aspect)


def _semi_axes_from(proportions: np.ndarray) -> np.ndarray:
    """Semi-axes (3,) cm of the canonical length with log(width / length), log(height / length)."""
    return CANONICAL_SEMI_AXES[1] * np.array([np.exp(proportions[0]), 1.0, np.exp(proportions[1])])


def fit_semi_axes(outlines: Sequence[Outline]) -> np.ndarray:
    """The head's semi-axes (3,) cm, its proportions fitted to the photos' outlines (step 2).

    A photo's scale is unknown, but its outline's aspect is the head's silhouette seen from
    its camera: the top photo's is mostly width against length, the profiles' height against
    length, the back's height against width. The two log proportions (width / length,
    height / length) are fitted by least squares (Gauss-Newton) to the outlines' signed log
    aspects as seen from the views' nominal cameras, with a weak prior at the canonical head
    that keeps what the photos do not observe (the width, from the two profiles alone); then
    clamped to ``WIDTH_TO_LENGTH_RANGE`` and ``HEIGHT_TO_LENGTH_RANGE``. The length stays
    canonical (only proportions matter). The canonical head is returned instead with fewer
    than ``MIN_PROPORTION_VIEWS`` outlines, or when they disagree with the fitted head by more
    than ``MAX_PROPORTION_RESIDUAL``.

    The nominal cameras, not the poses found later: on the synthetic benchmark, fitting to the
    poses found (~10 deg off the true cameras) and searching the poses again on that head
    scored no better, for a second pose search.
    """
    if len(outlines) < MIN_PROPORTION_VIEWS:
        return CANONICAL_SEMI_AXES
    canonical = np.log(CANONICAL_SEMI_AXES[[0, 2]] / CANONICAL_SEMI_AXES[1])
    cameras = [view_camera(outline.view) for outline in outlines]
    model_refs = [np.array([camera.right[axis], camera.down[axis]])
                  for camera, axis in zip(cameras, [1 if o.view == "top" else 2 for o in outlines])]
    observed = np.array([_signed_log_aspect(outline.ellipse.basis(), outline.ref)
                         for outline in outlines])

    def aspect_residuals(proportions: np.ndarray) -> np.ndarray:
        semi = _semi_axes_from(proportions)
        return observed - np.array([_signed_log_aspect(silhouette_basis(camera, semi), model_ref)
                                    for camera, model_ref in zip(cameras, model_refs)])

    def residuals(proportions: np.ndarray) -> np.ndarray:
        return np.concatenate([aspect_residuals(proportions) / OUTLINE_ASPECT_SD,
                               (proportions - canonical) / PROPORTION_PRIOR_SD])

    proportions = canonical.copy()
    for _ in range(PROPORTION_ITERATIONS):
        current = residuals(proportions)
        jacobian = np.stack([(residuals(proportions + step) - current) / 1e-4
                             for step in 1e-4 * np.eye(2)], axis=1)
        proportions = proportions - np.linalg.lstsq(jacobian, current, rcond=None)[0]
    if np.sqrt(np.mean(aspect_residuals(proportions) ** 2)) > MAX_PROPORTION_RESIDUAL:
        return CANONICAL_SEMI_AXES
    low = np.log([WIDTH_TO_LENGTH_RANGE[0], HEIGHT_TO_LENGTH_RANGE[0]])
    high = np.log([WIDTH_TO_LENGTH_RANGE[1], HEIGHT_TO_LENGTH_RANGE[1]])
    return _semi_axes_from(np.clip(proportions, low, high))


def _blend_weights(normals: np.ndarray, own: np.ndarray, others: list[np.ndarray]) -> np.ndarray:
    """Share (N,) of each point that this photo contributes, given all photos' directions."""
    own_visibility = np.clip(transform(own[None, :], normals)[:, 0], 0.0, None) ** BLEND_POWER + 1e-6
    total = own_visibility.copy()
    for direction in others:
        total += np.clip(transform(direction[None, :], normals)[:, 0], 0.0, None) ** BLEND_POWER + 1e-6
    return own_visibility / total


#: Masks with a longer side than this (pixels) are fitted at this size. The network sees
#: 256 px, so larger masks hold no more detail, only interpolation; the method's accuracy was
#: measured on 512 px views (benchmarks/bench_surface.py), and a 1024 x 768 visit costs a third
#: of the time at this size. A view that falls back to the pixel method uses its full mask.
WORKING_SIDE = 512


def working_copy(mask: np.ndarray, loss_map: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """``mask`` and ``loss_map`` with the long side at most :data:`WORKING_SIDE`.

    Classes by nearest neighbour; the loss fraction averaged over the scalp pixels that fall
    in each new pixel (not diluted by the zeros off the scalp).
    """
    height, width = mask.shape
    scale = WORKING_SIDE / max(height, width)
    if scale >= 1:
        return mask, loss_map
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    if loss_map is None:
        return small, None
    scalp = scalp_pixels(mask).astype(np.float32)
    weight = cv2.resize(scalp, size, interpolation=cv2.INTER_AREA)
    summed = cv2.resize(np.clip(loss_map, 0, 1).astype(np.float32) * scalp, size,
                        interpolation=cv2.INTER_AREA)
    keep = scalp_pixels(small) & (weight > 0)
    return small, np.where(keep, summed / np.maximum(weight, 1e-6), 0.0).astype(np.float32)


def surface_method(masks: Mapping[str, np.ndarray], losses: Mapping[str, np.ndarray | None],
                   names: Mapping[str, str]) -> VisitValues:
    """Per-view percents on the head surface (see the module docstring).

    Args:
        masks: view -> (H, W) uint8 class ids (contract section 3); any subset of the views.
        losses: view -> (H, W) float loss fraction in [0, 1], or None (class 3 = full loss).
        names: view -> a name for messages (usually the mask file).
    Returns:
        VisitValues with a percent (0..100) for every view given that has scalp; errors for
        views with none; flags for views that fell back to the pixel method and why.
    """
    result = VisitValues()
    outlines: dict[str, Outline] = {}
    fallback: dict[str, float] = {}
    for view, mask in masks.items():
        label = names.get(view, view)
        loss_map = losses.get(view)
        if loss_map is not None and loss_map.shape != mask.shape:
            result.errors.append(f"{label}: loss map shape {loss_map.shape} differs from mask "
                                 f"{mask.shape}")
            continue
        if view not in VIEWS:
            result.errors.append(f"{label}: unknown view {view!r}")
            continue
        try:
            outlines[view] = fit_outline(view, *working_copy(mask, loss_map))
        except PoorFit as reason:
            # The pixel value only where it is used; a view without scalp always gets here.
            try:
                fallback[view] = pixel_view_percent(mask, loss_map)
            except EmptyScalpError as error:
                result.errors.append(f"{label}: {error}")
                continue
            result.flags.append(f"{label}: surface fit poor ({reason}); pixel value used")

    semi = fit_semi_axes(list(outlines.values()))
    fits = {view: find_readings(outline, semi) for view, outline in outlines.items()}
    boundaries = area_boundaries(semi)
    reconstructed: dict[str, list[SurfaceSamples]] = {}
    for view, fit in fits.items():
        reconstructed[view] = view_samples(fit, semi)
        notes = _ambiguity_notes(fit, reconstructed[view], semi)
        result.flags.extend(f"{names.get(view, view)}: {note}" for note in notes)

    loss_sum = np.zeros(len(VIEWS))
    area_sum = np.zeros(len(VIEWS))
    directions = {view: sets[0].camera.toward for view, sets in reconstructed.items()}
    for view, sets in reconstructed.items():
        others = [direction for other, direction in directions.items() if other != view]
        for samples in sets:
            share = _blend_weights(samples.normals, samples.camera.toward, others)
            weight = samples.weight * share * samples.areas
            index = boundaries.area_index(samples.points, semi)
            loss_sum += np.bincount(index, weight * samples.loss, minlength=len(VIEWS))
            area_sum += np.bincount(index, weight, minlength=len(VIEWS))
    for view in masks:
        if view in fallback:
            result.values[view] = fallback[view]
        elif view in reconstructed:
            index = VIEWS.index(view)
            if area_sum[index] > 0:
                result.values[view] = float(100.0 * loss_sum[index] / area_sum[index])
            else:
                result.flags.append(f"{names.get(view, view)}: no scalp of the {view} area seen; "
                                    "pixel value used")
                result.values[view] = pixel_view_percent(masks[view], losses.get(view))
    return result
