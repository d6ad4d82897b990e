"""Clean-up of a predicted class mask before it is scored.

A photo holds one head. Anything the network labels as head (skin or scalp) that is not
connected to the largest head region is another object taken for a head: shoulders in
clothing seen from above, a hand, a backdrop pattern. Its scalp would count towards the
view's percent, so it is returned to background. An occluder that hides part of the head
(a finger, a clip) does not cut the head in two unless it crosses the whole silhouette, so
the head's own pixels stay connected.
"""

from __future__ import annotations

import cv2
import numpy as np

from autosalt.contract import CLASS_BACKGROUND, CLASS_IGNORE


def keep_main_head(mask: np.ndarray) -> np.ndarray:
    """Copy of ``mask`` (H, W) uint8 with every head region (classes 1-3) not 8-connected to
    the largest one set to background; ignore pixels (255) are not head and stay as they are.
    """
    head = ((mask != CLASS_BACKGROUND) & (mask != CLASS_IGNORE)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(head, connectivity=8)
    if count <= 2:  # background plus at most one head region
        return mask.copy()
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return np.where((labels > 0) & (labels != largest), np.uint8(CLASS_BACKGROUND), mask)
