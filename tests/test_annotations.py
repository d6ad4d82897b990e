"""import-annotations: exact round trips, label table, priority, formats, EXIF, names."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from autosalt.annotations.coco import mask_to_coco, rle_decode, rle_encode
from autosalt.annotations.importer import identify, import_annotations
from autosalt.annotations.labelme import mask_to_labelme
from autosalt.annotations.labels import load_label_table, normalise_label
from autosalt.annotations.polygons import mask_to_regions, rasterize_region, self_intersects
from autosalt.fileio import InputError, read_mask, write_json_atomic
from autosalt.layout import scan_labeled_folder
from autosalt.synth.generate import SynthOptions, generate


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "syn"
    generate(root, 2, 1, 3, SynthOptions(size=(64, 64)), workers=1, progress=False)
    return root


def synthetic_masks(root: Path) -> dict[str, np.ndarray]:
    return {f"{visit.patient}/{visit.visit}/{view}": read_mask(path)
            for visit in scan_labeled_folder(root).visits for view, path in visit.views.items()}


def per_class_iou(reference: dict, imported_root: Path) -> dict[int, float]:
    intersection, union = {}, {}
    for key, mask in reference.items():
        other = read_mask(imported_root / "masks" / f"{key}.png")
        for class_id in np.unique(np.concatenate([mask.ravel(), other.ravel()])).tolist():
            mine, theirs = mask == class_id, other == class_id
            intersection[class_id] = intersection.get(class_id, 0) + np.sum(mine & theirs)
            union[class_id] = union.get(class_id, 0) + np.sum(mine | theirs)
    return {class_id: intersection[class_id] / union[class_id] for class_id in union}


# ----------------------------------------------------------------------------- polygons


def test_mask_to_regions_is_exact_on_random_masks():
    rng = np.random.default_rng(0)
    for _ in range(300):
        binary = rng.random((rng.integers(1, 16), rng.integers(1, 16))) < rng.uniform(0.1, 0.9)
        painted = np.zeros(binary.shape, dtype=bool)
        for rings in mask_to_regions(binary):
            painted |= rasterize_region(rings, binary.shape)
        np.testing.assert_array_equal(painted, binary)


def test_hole_is_respected_and_island_inside_it_kept():
    binary = np.zeros((11, 11), dtype=bool)
    binary[1:10, 1:10] = True
    binary[3:8, 3:8] = False  # a hole ...
    binary[5, 5] = True  # ... with an island
    regions = mask_to_regions(binary)
    assert any(len(rings) == 2 for rings in regions)
    painted = np.zeros_like(binary)
    for rings in regions:
        painted |= rasterize_region(rings, binary.shape)
    np.testing.assert_array_equal(painted, binary)


def test_self_intersection_detected_but_touching_allowed():
    bowtie = np.array([[0, 0], [10, 10], [10, 0], [0, 10]], dtype=float)
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=float)
    out_and_back = np.array([[0, 0], [5, 0], [10, 0], [5, 0]], dtype=float)
    assert self_intersects(bowtie)
    assert not self_intersects(square)
    assert not self_intersects(out_and_back)


# ----------------------------------------------------------------------------- RLE


def test_rle_string_matches_pycocotools_encoding_by_hand():
    # runs 3, 2, 5, 1 (the 4th stored as 1 - 2 = -1): '3', '2', '5', then -1 -> 31 + 48 = 'O'
    binary = np.zeros((11, 1), dtype=bool)
    binary[3:5] = True
    binary[10] = True
    assert rle_encode(binary, compressed=False)["counts"] == [3, 2, 5, 1]
    assert rle_encode(binary)["counts"] == "325O"
    np.testing.assert_array_equal(rle_decode({"size": [11, 1], "counts": "325O"}), binary)


def test_rle_round_trip_column_major_and_leading_one():
    rng = np.random.default_rng(1)
    for _ in range(50):
        binary = rng.random((rng.integers(1, 30), rng.integers(1, 30))) < 0.4
        binary.flat[0] = rng.random() < 0.5
        for compressed in (True, False):
            np.testing.assert_array_equal(rle_decode(rle_encode(binary, compressed)), binary)
    large = np.zeros((300, 200), dtype=bool)
    large[100:250, 20:180] = True  # long runs need several characters per count
    np.testing.assert_array_equal(rle_decode(rle_encode(large)), large)


# ----------------------------------------------------------------------------- round trips


def test_labelme_round_trip_is_exact_on_synthetic_visits(synthetic, tmp_path):
    reference = synthetic_masks(synthetic)
    before = tree_hash(synthetic)
    for key, mask in reference.items():
        json_path = tmp_path / "labelme" / f"{key}.json"
        photo = synthetic / "photos" / f"{key}.jpg"
        document = mask_to_labelme(mask, os.path.relpath(photo, json_path.parent), mask.shape)
        write_json_atomic(json_path, document)
    result = import_annotations(tmp_path / "labelme", tmp_path / "out", "labelme")
    assert not result.errors and not result.warnings
    assert len(result.imported) == len(reference) == 8
    iou = per_class_iou(reference, tmp_path / "out")
    assert min(iou.values()) >= 0.99, iou
    assert set(iou) >= {0, 1, 2}
    for key in reference:  # photos copied byte for byte
        assert (tmp_path / "out" / "photos" / f"{key}.jpg").read_bytes() == \
            (synthetic / "photos" / f"{key}.jpg").read_bytes()
    assert tree_hash(synthetic) == before


@pytest.mark.parametrize("encoding", ["polygon", "rle"])
def test_coco_round_trip_is_exact_on_synthetic_visits(synthetic, tmp_path, encoding):
    reference = synthetic_masks(synthetic)
    document = mask_to_coco([(f"{key}.jpg", mask) for key, mask in reference.items()], encoding)
    write_json_atomic(tmp_path / "coco.json", document)
    result = import_annotations(tmp_path / "coco.json", tmp_path / "out", "coco",
                                images_root=synthetic / "photos")
    assert not result.errors, result.errors
    iou = per_class_iou(reference, tmp_path / "out")
    assert min(iou.values()) >= 0.99, iou


def test_exported_labelme_is_layered_and_resized_to_photo():
    mask = np.zeros((8, 8), dtype=np.uint8)
    mask[2:6, 2:6] = 2
    mask[3:5, 3:5] = 3
    document = mask_to_labelme(mask, Path("..") / "photos" / "a.jpg", (16, 16))
    assert (document["imageHeight"], document["imageWidth"]) == (16, 16)
    assert document["imagePath"] == "../photos/a.jpg"
    labels = [shape["label"] for shape in document["shapes"]]
    assert labels == ["scalp_hair", "hair_loss"]  # scalp without a hole, loss on top
    assert all(shape["group_id"] is None for shape in document["shapes"])
    flat = mask_to_labelme(mask, "a.jpg", layered=False)
    assert sorted(shape["label"] for shape in flat["shapes"]) == ["hair_loss", "scalp_hair", "scalp_hair"]


# ----------------------------------------------------------------------------- import details


def write_photo(path: Path, size=(20, 30), orientation: int | None = None) -> Path:
    """A JPEG of (height, width) raw pixels, optionally with an EXIF orientation tag."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(np.full((*size, 3), 120, dtype=np.uint8))
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    image.save(path, format="JPEG", exif=exif.tobytes())
    return path


def labelme_doc(image_path: str, shapes: list[tuple[str, list]], size=(20, 30), **extra) -> dict:
    return {"version": "5.5.0", "shapes": [
        {"label": label, "points": points, "shape_type": "polygon", "group_id": None, **extra}
        for label, points in shapes], "imagePath": image_path, "imageHeight": size[0],
        "imageWidth": size[1]}


def square(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_priority_loss_over_scalp_over_skin_whatever_the_order(tmp_path):
    write_photo(tmp_path / "src" / "P1_w0_top.jpg")
    doc = labelme_doc("P1_w0_top.jpg", [("Hair Loss", square(5, 5, 9, 9)), ("scalp", square(2, 2, 20, 15)),
                                         ("face", square(0, 0, 29, 19))])
    write_json_atomic(tmp_path / "src" / "P1_w0_top.json", doc)
    result = import_annotations(tmp_path / "src", tmp_path / "out", "labelme")
    assert not result.errors, result.errors
    mask = read_mask(tmp_path / "out" / "masks" / "P1" / "w0" / "top.png")
    assert mask[7, 7] == 3 and mask[12, 18] == 2 and mask[18, 25] == 1
    assert mask.shape == (20, 30)


def test_group_id_rings_make_a_hole_and_ignore_wins(tmp_path):
    write_photo(tmp_path / "src" / "P1" / "w0" / "back.jpg")
    doc = labelme_doc("back.jpg", [("scalp_hair", square(2, 2, 17, 17)), ("scalp_hair", square(6, 6, 10, 10)),
                                   ("unsure", square(15, 15, 25, 18))])
    doc["shapes"][0]["group_id"] = doc["shapes"][1]["group_id"] = 4
    write_json_atomic(tmp_path / "src" / "P1" / "w0" / "back.json", doc)
    result = import_annotations(tmp_path / "src", tmp_path / "out", "labelme")
    assert not result.errors, result.errors
    mask = read_mask(tmp_path / "out" / "masks" / "P1" / "w0" / "back.png")
    assert mask[8, 8] == 0 and mask[3, 3] == 2 and mask[16, 16] == 255 and mask[16, 22] == 255


def test_exif_rotated_photo_gets_mask_of_displayed_size(tmp_path):
    # raw 20 rows x 30 columns, orientation 6 (rotate 90): LabelMe shows 30 rows x 20 columns
    photo = write_photo(tmp_path / "src" / "P1_w0_left.jpg", size=(20, 30), orientation=6)
    raw = photo.read_bytes()
    write_json_atomic(tmp_path / "src" / "P1_w0_left.json",
                      labelme_doc("P1_w0_left.jpg", [("hair", square(1, 1, 10, 25))], size=(30, 20)))
    result = import_annotations(tmp_path / "src", tmp_path / "out", "labelme")
    assert not result.errors, result.errors
    mask = read_mask(tmp_path / "out" / "masks" / "P1" / "w0" / "left.png")
    assert mask.shape == (30, 20) and mask[20, 5] == 2 and mask[20, 15] == 0
    assert (tmp_path / "out" / "photos" / "P1" / "w0" / "left.jpg").read_bytes() == raw
    assert photo.read_bytes() == raw


def test_cvat_polygon_box_and_mask(tmp_path):
    write_photo(tmp_path / "photos" / "P2" / "v1" / "vertex.jpg")
    # mask: 2x3 box at (left 20, top 10), rows "011" and "110" -> runs 1, 4, 1
    xml = """<?xml version="1.0" encoding="utf-8"?>
<annotations><version>1.1</version>
  <image id="0" name="P2/v1/vertex.jpg" width="30" height="20">
    <polygon label="scalp" occluded="0" points="0.5,0.5;15.5,0.5;15.5,10.5;0.5,10.5" z_order="0"/>
    <box label="bald" xtl="2" ytl="2" xbr="5" ybr="4" z_order="0"/>
    <mask label="ear" rle="1, 4, 1" left="20" top="10" width="3" height="2" z_order="0"/>
    <polyline label="scalp" points="1,1;2,2"/>
  </image>
</annotations>"""
    (tmp_path / "task.xml").write_text(xml)
    result = import_annotations(tmp_path / "task.xml", tmp_path / "out", "cvat",
                                images_root=tmp_path / "photos")
    assert not result.errors, result.errors
    assert any("no area" in warning for warning in result.warnings)
    mask = read_mask(tmp_path / "out" / "masks" / "P2" / "v1" / "top.png")
    assert mask[0, 0] == 2 and mask[10, 15] == 2 and mask[11, 16] == 0
    assert mask[2:4, 2:5].tolist() == [[3] * 3] * 2 and mask[4, 2] == 2 and mask[2, 5] == 2
    assert mask[10, 20:23].tolist() == [0, 1, 1] and mask[11, 20:23].tolist() == [1, 1, 0]


def test_identify_default_and_pattern():
    import re

    assert identify(["P007/week04/Vertex.jpg"], None) == ("P007", "week04", "top")
    assert identify(["clinic/P007/week04/top"], None) == ("P007", "week04", "top")
    assert identify(["P007_week04_left_side.png"], None) == ("P007", "week04", "left")
    assert identify(["img_0001.jpg", "P1/w2/back.jpg"], None) == ("P1", "w2", "back")
    assert identify(["img_0001.jpg"], None) is None
    pattern = re.compile(r"(?P<patient>P\d+)-(?P<visit>w\d+)-(?P<view>[a-z]+)")
    assert identify(["batch/P12-w3-rear.JPG"], pattern) == ("P12", "w3", "back")


def test_label_table_override(tmp_path):
    (tmp_path / "map.yaml").write_text("patch: 3\nHair Line: scalp_hair\n")
    table = load_label_table(tmp_path / "map.yaml")
    assert table["patch"] == 3 and table[normalise_label("Hair Line")] == 2 and table["bald"] == 3
    (tmp_path / "bad.yaml").write_text("patch: 7\n")
    with pytest.raises(InputError, match="bad.yaml.*patch"):
        load_label_table(tmp_path / "bad.yaml")


def test_existing_entry_needs_overwrite(tmp_path):
    write_photo(tmp_path / "src" / "P1_w0_top.jpg")
    write_json_atomic(tmp_path / "src" / "P1_w0_top.json",
                      labelme_doc("P1_w0_top.jpg", [("scalp", square(1, 1, 5, 5))]))
    assert not import_annotations(tmp_path / "src", tmp_path / "out", "labelme").errors
    again = import_annotations(tmp_path / "src", tmp_path / "out", "labelme")
    assert len(again.errors) == 1 and "--overwrite" in again.errors[0]
    assert not import_annotations(tmp_path / "src", tmp_path / "out", "labelme", overwrite=True).errors


def test_unlabeled_pixels_can_be_ignore(tmp_path):
    write_photo(tmp_path / "src" / "P1_w0_top.jpg")
    write_json_atomic(tmp_path / "src" / "P1_w0_top.json",
                      labelme_doc("P1_w0_top.jpg", [("scalp", square(1, 1, 5, 5))]))
    import_annotations(tmp_path / "src", tmp_path / "out", "labelme", unlabeled=255)
    mask = read_mask(tmp_path / "out" / "masks" / "P1" / "w0" / "top.png")
    assert mask[3, 3] == 2 and mask[10, 10] == 255
    assert json.loads((tmp_path / "src" / "P1_w0_top.json").read_text())["shapes"]
