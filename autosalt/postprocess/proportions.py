"""Step 2 of the ``surface`` method: the head's proportions fitted to the photos' outlines."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autosalt.postprocess.geometry import (
    CANONICAL_SEMI_AXES,
    silhouette_basis,
)
from autosalt.postprocess.outline import Outline
from autosalt.postprocess.pose import view_camera

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
#: aspects agree with the fitted head's within this RMS (log ratio); otherwise the canonical
#: head is used.
MIN_PROPORTION_VIEWS = 2
MAX_PROPORTION_RESIDUAL = 0.1


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

    The nominal cameras, not the poses found later: so the pose search runs once, on the
    fitted head, rather than before and after the fit.
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


