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

The steps live in their own modules: :mod:`~autosalt.postprocess.outline` (step 1),
:mod:`~autosalt.postprocess.proportions` (step 2), :mod:`~autosalt.postprocess.pose` (steps 3
and 4); this module casts the rays (step 5), gives the points to their areas (step 6) and
runs the whole (:func:`surface_method`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from autosalt.contract import VIEWS, scalp_pixels
from autosalt.postprocess.geometry import (
    CANONICAL_SEMI_AXES,
    OrthoCamera,
    area_boundaries,
    cast_rays,
    lengths,
    transform,
)
from autosalt.postprocess.outline import (  # noqa: F401 (re-exported)
    MIN_SCALP_FRACTION,
    Outline,
    PoorFit,
    fit_outline,
)
from autosalt.postprocess.pixel import EmptyScalpError, percent_of, pixel_view_percent
from autosalt.postprocess.pose import (  # noqa: F401 (re-exported)
    PROFILE_ELEVATION_DEG,
    ViewFit,
    find_readings,
    model_map,
    nominal_toward,
    view_camera,
)
from autosalt.postprocess.proportions import (  # noqa: F401 (re-exported)
    HEIGHT_TO_LENGTH_RANGE,
    WIDTH_TO_LENGTH_RANGE,
    fit_semi_axes,
)
from autosalt.postprocess.values import VisitValues

#: An unknown front/back (top) or face side (profile) is flagged when the two readings of the
#: view's own area differ by more than this (points); both are averaged either way.
AMBIGUITY_FLAG_POINTS = 2.0
#: Largest area weight, as 1/cos of this angle: the silhouette rim is unreliable.
MAX_RIM_ANGLE_DEG = 87.0
#: Exponent of cos(normal, view) in the blending of photos that see the same point.
BLEND_POWER = 1.0


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


def view_samples(fit: ViewFit, semi_axes: np.ndarray) -> list[SurfaceSamples]:
    """Step 5 of the module docstring: each reading's scalp pixels on the head of
    ``semi_axes`` (3,) cm, weighted 1 / the number of readings."""
    outline = fit.outline
    samples = []
    for reading in fit.readings:
        camera = reading.camera
        # image px (relative to centre) -> unit disk of the model
        model_basis, rotation = model_map(outline.view, camera.right, camera.down,
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
                     ) -> list[tuple[str, str]]:
    """The view's (code, note) pairs: its pose notes (``pose_guess``), plus its ``ambiguous``
    note (``pose_ambiguous``) where the readings' values of its own area differ by more than
    ``AMBIGUITY_FLAG_POINTS``: note the guess only where it matters."""
    notes = [("pose_guess", note) for note in fit.notes]
    if len(samples) > 1:
        values = [_own_area_percent(fit.outline.view, sample, semi_axes) for sample in samples]
        spread = max(values) - min(values)
        if spread > AMBIGUITY_FLAG_POINTS:
            notes.append(("pose_ambiguous", f"{fit.ambiguous} (the two readings of this view "
                                            f"differ by {spread:.1f} points)"))
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
    return samples, [note for _, note in _ambiguity_notes(fit, samples, semi_axes)]


def _own_area_percent(view: str, samples: SurfaceSamples, semi_axes: np.ndarray) -> float:
    """Percent loss of the photo's points that fall in the view's own SALT area (0 if none)."""
    own = area_boundaries(semi_axes).area_index(samples.points, semi_axes) == VIEWS.index(view)
    area = float(samples.areas[own].sum())
    return percent_of((samples.areas * samples.loss)[own].sum(), area) if area > 0 else 0.0


def _blend_weights(normals: np.ndarray, own: np.ndarray, others: list[np.ndarray]) -> np.ndarray:
    """Share (N,) of each point that this photo contributes, given all photos' directions."""
    own_visibility = np.clip(transform(own[None, :], normals)[:, 0], 0.0, None) ** BLEND_POWER + 1e-6
    total = own_visibility.copy()
    for direction in others:
        total += np.clip(transform(direction[None, :], normals)[:, 0], 0.0, None) ** BLEND_POWER + 1e-6
    return own_visibility / total


#: Masks with a longer side than this (pixels) are fitted at this size. The network sees
#: 256 px, so larger masks hold no more detail, only interpolation, and cost more time; the
#: method's accuracy is benchmarked on 512 px views (benchmarks/bench_surface.py). A view that
#: falls back to the pixel method uses its full mask.
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
        views with none; observations: views that fell back to the pixel method and why
        (``surface_fit``), and pose guesses (``pose_guess``, ``pose_ambiguous``).
    """
    result = VisitValues()
    outlines, fallback = _fit_outlines(masks, losses, names, result)
    semi = fit_semi_axes(list(outlines.values()))
    reconstructed: dict[str, list[SurfaceSamples]] = {}
    for view, outline in outlines.items():
        fit = find_readings(outline, semi)
        reconstructed[view] = view_samples(fit, semi)
        for code, note in _ambiguity_notes(fit, reconstructed[view], semi):
            result.observe(view, code, f"{names.get(view, view)}: {note}")
    loss_sum, area_sum = _area_sums(reconstructed, semi)
    for view in masks:
        if view in fallback:
            result.values[view] = fallback[view]
        elif view in reconstructed:
            index = VIEWS.index(view)
            if area_sum[index] > 0:
                result.values[view] = percent_of(loss_sum[index], area_sum[index])
            else:
                result.observe(view, "surface_fit", f"{names.get(view, view)}: no scalp of the "
                                                    f"{view} area seen; pixel value used")
                result.values[view] = pixel_view_percent(masks[view], losses.get(view))
    return result


def _fit_outlines(masks: Mapping[str, np.ndarray], losses: Mapping[str, np.ndarray | None],
                  names: Mapping[str, str], result: VisitValues
                  ) -> tuple[dict[str, Outline], dict[str, float]]:
    """Step 1 for every view: (view -> outline, view -> pixel percent of the views that fall
    back to the pixel method). Adds the errors and fall-back observations to ``result``."""
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
            result.observe(view, "surface_fit", f"{label}: surface fit poor ({reason}); pixel "
                                                "value used")
    return outlines, fallback


def _area_sums(reconstructed: Mapping[str, list[SurfaceSamples]], semi_axes: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Step 6: per SALT area (in ``VIEWS`` order), the loss-weighted and the plain scalp
    surface (cm^2) of every photo's points, blended where photos see the same point."""
    boundaries = area_boundaries(semi_axes)
    loss_sum = np.zeros(len(VIEWS))
    area_sum = np.zeros(len(VIEWS))
    directions = {view: sets[0].camera.toward for view, sets in reconstructed.items()}
    for view, sets in reconstructed.items():
        others = [direction for other, direction in directions.items() if other != view]
        for samples in sets:
            share = _blend_weights(samples.normals, samples.camera.toward, others)
            weight = samples.weight * share * samples.areas
            index = boundaries.area_index(samples.points, semi_axes)
            loss_sum += np.bincount(index, weight * samples.loss, minlength=len(VIEWS))
            area_sum += np.bincount(index, weight, minlength=len(VIEWS))
    return loss_sum, area_sum
