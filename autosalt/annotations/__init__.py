"""Annotation files (LabelMe, CVAT, COCO) to and from the contract's labeled-data layout.

``autosalt import-annotations`` (:mod:`.importer`) turns a rater's polygons into class-id
masks; ``autosalt check-dataset`` (:mod:`.check`) checks a labeled-data folder before
training. :func:`autosalt.annotations.labelme.mask_to_labelme` and
:func:`autosalt.annotations.coco.mask_to_coco` go the other way, so a model's masks can be
corrected by a rater and imported back (docs/retraining.md).
"""
