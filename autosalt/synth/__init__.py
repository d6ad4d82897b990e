"""Synthetic labeled data with exact truth: a 3-D head, hair-loss patterns, a photo renderer.

The truth of every view is integrated on the head's surface (``head.surface_truth``), never
counted from rendered pixels; the renderer only makes the photos and pixel masks.
"""
