"""import-annotations on bad input: each problem named with its file, the rest imported."""

from __future__ import annotations

import json

import pytest
from test_annotations import labelme_doc, square, tree_hash, write_photo

from autosalt.annotations.importer import import_annotations
from autosalt.cli import main
from autosalt.fileio import read_mask, write_json_atomic


@pytest.fixture
def source(tmp_path):
    """A LabelMe folder: one good file and one photo per bad case."""
    src = tmp_path / "src"
    for name in ("good", "bowtie", "partly", "outside", "unknown", "empty", "rotated"):
        write_photo(src / f"P1_{name}_top.jpg")
    write_json_atomic(src / "P1_good_top.json",
                      labelme_doc("P1_good_top.jpg", [("scalp", square(1, 1, 9, 9))]))
    (src / "P1_broken_top.json").write_text('{"shapes": [', encoding="utf-8")
    write_json_atomic(src / "P1_bowtie_top.json",
                      labelme_doc("P1_bowtie_top.jpg", [("scalp", [[0, 0], [10, 10], [10, 0], [0, 10]])]))
    write_json_atomic(src / "P1_partly_top.json",
                      labelme_doc("P1_partly_top.jpg", [("scalp", square(20, 10, 45, 30))]))
    write_json_atomic(src / "P1_outside_top.json",
                      labelme_doc("P1_outside_top.jpg", [("scalp", square(2, 2, 5, 5)),
                                                          ("bald", square(100, 100, 120, 120))]))
    write_json_atomic(src / "P1_unknown_top.json",
                      labelme_doc("P1_unknown_top.jpg", [("scalp", square(2, 2, 5, 5)),
                                                          ("hat", square(1, 1, 3, 3)),
                                                          ("Glasses", square(1, 1, 3, 3))]))
    write_json_atomic(src / "P1_empty_top.json", labelme_doc("P1_empty_top.jpg", []))
    write_json_atomic(src / "P1_missing_top.json",
                      labelme_doc("P1_missing_top.jpg", [("scalp", square(1, 1, 5, 5))]))
    write_json_atomic(src / "P1_rotated_top.json",
                      labelme_doc("P1_rotated_top.jpg", [("scalp", square(1, 1, 5, 5))], size=(30, 20)))
    return src


def errors_by_file(result) -> dict[str, str]:
    return {message.split(": ")[0].rsplit("/", 1)[-1]: message for message in result.errors}


def test_each_bad_file_named_and_the_rest_imported(source, tmp_path):
    before = tree_hash(source)
    result = import_annotations(source, tmp_path / "out", "labelme")
    errors = errors_by_file(result)
    assert sorted(errors) == ["P1_broken_top.json", "P1_empty_top.json", "P1_missing_top.json",
                              "P1_outside_top.json", "P1_rotated_top.json", "P1_unknown_top.json"]
    assert "malformed JSON (line 1, column 13" in errors["P1_broken_top.json"]
    assert "empty label set" in errors["P1_empty_top.json"]
    assert "P1_missing_top.jpg not found" in errors["P1_missing_top.json"]
    assert "entirely outside the 30x20 image" in errors["P1_outside_top.json"]
    assert "shape 1 (polygon 'bald')" in errors["P1_outside_top.json"]
    assert "['Glasses', 'hat']" in errors["P1_unknown_top.json"]
    assert "--unknown ignore" in errors["P1_unknown_top.json"]
    assert "20x30 image but" in errors["P1_rotated_top.json"] and "EXIF" in errors["P1_rotated_top.json"]
    warnings = "\n".join(result.warnings)
    assert "P1_bowtie_top.json: shape 0 (polygon 'scalp') crosses itself" in warnings
    assert "P1_partly_top.json: shape 0 (polygon 'scalp') reaches outside the 30x20 image; clipped" \
        in warnings
    assert sorted(key[1] for key in result.imported) == ["bowtie", "good", "partly"]
    partly = read_mask(tmp_path / "out" / "masks" / "P1" / "partly" / "top.png")
    assert partly[19, 29] == 2 and partly[9, 19] == 0
    bowtie = read_mask(tmp_path / "out" / "masks" / "P1" / "bowtie" / "top.png")
    assert bowtie[5, 1] == 2 and bowtie[1, 5] == 0  # both lobes (left, right) filled, not between
    assert not (tmp_path / "out" / "masks" / "P1" / "broken").exists()
    assert tree_hash(source) == before


def test_unknown_ignore_skips_those_shapes(source, tmp_path):
    result = import_annotations(source / "P1_unknown_top.json", tmp_path / "out", "labelme", unknown="ignore")
    assert not result.errors and any("['Glasses', 'hat']" in w for w in result.warnings)


def test_cli_exit_code_and_messages(source, tmp_path, capsys):
    code = main(["import-annotations", "--format", "labelme", str(source), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 1
    assert "error: " + str(source / "P1_broken_top.json") + ": malformed JSON" in captured.err
    assert "imported 3 images (1 patients, 3 visits)" in captured.out and "6 failed" in captured.out


def test_malformed_xml_and_missing_photo_in_cvat(tmp_path):
    (tmp_path / "bad.xml").write_text("<annotations><image name='a'>\n<polygon></annotations>")
    result = import_annotations(tmp_path / "bad.xml", tmp_path / "out", "cvat")
    assert len(result.errors) == 1 and "bad.xml: malformed XML (line 2" in result.errors[0]
    (tmp_path / "empty.xml").write_text(
        "<annotations><version>1.1</version>"
        "<image id='0' name='P1_w0_top.jpg' width='30' height='20'/></annotations>")
    result = import_annotations(tmp_path / "empty.xml", tmp_path / "out", "cvat")
    assert "no image has any labelled shape (empty label set)" in result.errors[0]
    (tmp_path / "task.xml").write_text(
        "<annotations><image id='0' name='P1_w0_top.jpg' width='30' height='20'>"
        "<polygon label='scalp' points='1,1;5,1;5,5'/></image>"
        "<image id='1' name='P1_w0_back.jpg' width='30' height='20'>"
        "<polygon label='scalp' points='1,1;5,1'/></image></annotations>")
    write_photo(tmp_path / "P1_w0_back.jpg")
    result = import_annotations(tmp_path / "task.xml", tmp_path / "out", "cvat")
    assert len(result.errors) == 2
    assert "task.xml: image 'P1_w0_top.jpg': photo" in result.errors[0] and "not found" in result.errors[0]
    assert "image 'P1_w0_back.jpg': <polygon> 0 'scalp': a polygon needs at least 3" in result.errors[1]


def test_coco_empty_and_bad_rle(tmp_path):
    write_photo(tmp_path / "P1_w0_top.jpg")
    base = {"images": [{"id": 1, "file_name": "P1_w0_top.jpg", "height": 20, "width": 30}],
            "categories": [{"id": 1, "name": "scalp"}]}
    (tmp_path / "empty.json").write_text(json.dumps({**base, "annotations": []}))
    result = import_annotations(tmp_path / "empty.json", tmp_path / "out", "coco")
    assert "empty.json: no annotations (empty label set)" in result.errors[0]
    (tmp_path / "rle.json").write_text(json.dumps({**base, "annotations": [
        {"id": 7, "image_id": 1, "category_id": 1, "segmentation": {"size": [20, 30], "counts": [5, 5]}}]}))
    result = import_annotations(tmp_path / "rle.json", tmp_path / "out", "coco")
    assert "rle.json: image 'P1_w0_top.jpg': annotation 7 ('scalp'): RLE counts add up to 10 pixels" \
        in result.errors[0]
    (tmp_path / "orphan.json").write_text(json.dumps({**base, "annotations": [
        {"id": 1, "image_id": 9, "category_id": 1, "segmentation": [[1, 1, 5, 1, 5, 5]]}]}))
    assert "image ids [9]" in import_annotations(tmp_path / "orphan.json", tmp_path / "out", "coco").errors[0]


def test_bad_pattern_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    code = main(["import-annotations", "--format", "labelme", str(tmp_path / "src"), "--out",
                 str(tmp_path / "out"), "--pattern", "(?P<patient>\\w+)"])
    assert code == 2 and "missing: view, visit" in capsys.readouterr().err


def coco_for(names: list[str]) -> dict:
    """A COCO document with one 20x30 scalp square per image name."""
    import numpy as np

    from autosalt.annotations.coco import mask_to_coco

    mask = np.zeros((20, 30), dtype=np.uint8)
    mask[2:9, 2:9] = 2
    return mask_to_coco([(name, mask) for name in names])


def files_outside(root, out) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and out not in p.parents)


def test_hostile_ids_never_leave_dataset_nor_overwrite(tmp_path):
    """Ids from names such as .._.._top.jpg, a/b/P1 (--pattern), an absolute path or a Windows
    device name are refused with a message; nothing is written outside --out, nothing replaced."""
    images, out = tmp_path / "images", tmp_path / "work" / "out"
    absolute = write_photo(tmp_path / "abs" / "P9_w1_top.jpg")
    names = [".._.._top.jpg", "x_.._top.jpg", "CON_w1_top.jpg", "P1_w1_top.jpg", str(absolute)]
    for name in names[:4]:
        write_photo(images / name)
    write_json_atomic(tmp_path / "coco.json", coco_for(names))
    before = files_outside(tmp_path, out)
    result = import_annotations(tmp_path / "coco.json", out, "coco", images_root=images)
    assert result.imported == [("P1", "w1", "top"), ("P9", "w1", "top")]
    assert any("'..'" in e and "cannot be a file or folder name" in e and "rename the photo" in e
               for e in result.errors), result.errors
    assert any("'CON'" in e and "reserved on Windows" in e for e in result.errors)
    assert len(result.errors) == 3 and all("coco.json" in e for e in result.errors)
    assert files_outside(tmp_path, out) == before
    # --pattern ids holding folders or an absolute path are refused the same way.
    pattern = r"(?P<patient>.*)_(?P<visit>w\d)_(?P<view>top)"
    write_photo(images / "a" / "b" / "P2_w1_top.jpg")
    write_json_atomic(tmp_path / "deep.json", coco_for(["a/b/P2_w1_top.jpg", str(absolute)]))
    before = files_outside(tmp_path, out)
    result = import_annotations(tmp_path / "deep.json", out, "coco", images_root=images,
                                pattern=pattern)
    assert not result.imported and len(result.errors) == 2
    assert all("holds a path separator" in e for e in result.errors), result.errors
    assert files_outside(tmp_path, out) == before


def test_a_link_inside_dataset_is_not_followed_out(tmp_path):
    images, out, elsewhere = tmp_path / "images", tmp_path / "out", tmp_path / "elsewhere"
    write_photo(images / "P1_w1_top.jpg")
    write_json_atomic(tmp_path / "coco.json", coco_for(["P1_w1_top.jpg"]))
    elsewhere.mkdir()
    (out / "masks").mkdir(parents=True)
    (out / "masks" / "P1").symlink_to(elsewhere, target_is_directory=True)
    result = import_annotations(tmp_path / "coco.json", out, "coco", images_root=images)
    assert not result.imported and "a symbolic link leads out of" in result.errors[0]
    assert not list(elsewhere.iterdir()) and not (out / "photos").exists()
