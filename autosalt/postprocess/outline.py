"""Step 1 of the ``surface`` method: a photo's scalp outline as an ellipse, and its face cue.

A photo whose outline cannot be trusted (scalp too small, head cut by the frame, not an
ellipse, large holes) raises :class:`PoorFit`, and its view falls back to the ``pixel`` value
(see :mod:`autosalt.postprocess.surface`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import label

from autosalt.contract import CLASS_SKIN, scalp_pixels
from autosalt.postprocess.geometry import (
    Ellipse,
    FitError,
    fit_ellipse,
    lengths,
    transform,
)
from autosalt.postprocess.pixel import pixel_loss_fraction

POSE_SAMPLES = 2000  # head pixels used to score each pose

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


def _outside_head(head: np.ndarray) -> np.ndarray:
    """Boolean (H, W): pixels off the head and connected to the image border through such
    pixels (4-neighbours), i.e. not ``binary_fill_holes(head)``; one labelling pass instead
    of the fill's repeated dilation, which is slower on large masks."""
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


