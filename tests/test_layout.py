from pathlib import Path

from autosalt.contract import canonical_view
from autosalt.layout import companion_path, parse_flat_name, scan_photo_folder


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_view_synonyms():
    assert canonical_view("Vertex") == "top" and canonical_view("L") == "left"
    assert canonical_view("occiput") == "back" and canonical_view("front") is None


def test_nested_and_flat_layouts(tmp_path):
    _touch(tmp_path / "007" / "week04" / "TOP.JPG")
    _touch(tmp_path / "007" / "week04" / "left_side.png")
    _touch(tmp_path / "P2_v1_right-profile.jpeg")
    _touch(tmp_path / "P2_v1_rear.tif")
    _touch(tmp_path / "notes.txt")
    _touch(tmp_path / "P3_badname.jpg")
    scan = scan_photo_folder(tmp_path)
    keys = [(v.patient, v.visit, sorted(v.views)) for v in scan.visits]
    assert keys == [("007", "week04", ["left", "top"]), ("P2", "v1", ["back", "right"])]
    assert any("notes.txt" in s for s in scan.skipped)
    assert any("P3_badname.jpg" in s for s in scan.skipped)
    assert scan.visits[0].missing_views == ["right", "back"]


def test_duplicate_views_reported(tmp_path):
    _touch(tmp_path / "P1" / "w0" / "top.jpg")
    _touch(tmp_path / "P1" / "w0" / "vertex.png")
    visit = scan_photo_folder(tmp_path).visits[0]
    assert visit.problems and "duplicate top" in visit.problems[0]


def test_flat_name_parsing():
    assert parse_flat_name("P_1_w_2_left_side") == ("P_1_w", "2", "left_side")
    assert parse_flat_name("P1_w0_top") == ("P1", "w0", "top")
    assert parse_flat_name("top") is None


def test_iphone_heic_photos_are_skipped_with_how_to_convert_them(tmp_path):
    _touch(tmp_path / "P1" / "w0" / "top.HEIC")
    _touch(tmp_path / "P1" / "w0" / "back.jpg")
    scan = scan_photo_folder(tmp_path)
    assert sorted(scan.visits[0].views) == ["back"]
    [message] = scan.skipped
    assert "top.HEIC" in message and "export them as JPEG" in message


def test_companion_path_follows_the_masks_own_name_in_any_case(tmp_path):
    # A clinic names its files as it likes: the photo of masks/P1/v1/Vertex.png is
    # photos/P1/v1/Vertex.JPG (not top.*), and a flat mask finds its flat photo the same way.
    for path in ("masks/P1/v1/Vertex.png", "photos/P1/v1/Vertex.JPG", "loss/P1/v1/VERTEX.PNG",
                 "masks/P1/v2/vertex.png", "photos/P1/v2/top.jpg",
                 "masks/P2_v1_Back.png", "photos/P2_v1_back.jpeg"):
        _touch(tmp_path / path)
    photos = (".jpg", ".jpeg", ".png")
    assert companion_path(tmp_path, "photos", tmp_path / "masks/P1/v1/Vertex.png", "top", photos) \
        == tmp_path / "photos/P1/v1/Vertex.JPG"
    assert companion_path(tmp_path, "loss", tmp_path / "masks/P1/v1/Vertex.png", "top") \
        == tmp_path / "loss/P1/v1/VERTEX.PNG"
    assert companion_path(tmp_path, "photos", tmp_path / "masks/P1/v2/vertex.png", "top", photos) \
        == tmp_path / "photos/P1/v2/top.jpg"
    assert companion_path(tmp_path, "photos", tmp_path / "masks/P2_v1_Back.png", "back", photos) \
        == tmp_path / "photos/P2_v1_back.jpeg"
    assert companion_path(tmp_path, "loss", tmp_path / "masks/P2_v1_Back.png", "back") is None
