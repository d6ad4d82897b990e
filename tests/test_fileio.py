"""Readers refuse bad files with a message naming the file; writers are atomic."""

import io

import numpy as np
import pytest
from PIL import Image

from autosalt.fileio import (
    InputError,
    read_loss_map,
    read_mask,
    read_photo,
    write_csv_atomic,
    write_png_atomic,
)


def _save(path, array, **kwargs):
    Image.fromarray(array).save(path, **kwargs)
    return path


def test_reads_rgb_grayscale_alpha_16bit_cmyk(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    assert read_photo(_save(tmp_path / "a.png", rgb)).shape == (20, 30, 3)
    gray = read_photo(_save(tmp_path / "g.png", rgb[..., 0]))
    assert gray.shape == (20, 30, 3) and np.array_equal(gray[..., 0], rgb[..., 0])
    rgba = np.dstack([rgb, np.full((20, 30), 255, np.uint8)])
    assert np.array_equal(read_photo(_save(tmp_path / "a4.png", rgba)), rgb)
    sixteen = (np.arange(600, dtype=np.uint16).reshape(20, 30) * 100)
    Image.fromarray(sixteen).save(tmp_path / "s.png")
    photo = read_photo(tmp_path / "s.png")
    assert photo.dtype == np.uint8 and photo.max() > 200  # scaled, not clipped to 255
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg")
    assert read_photo(tmp_path / "c.jpg").shape == (20, 30, 3)


def test_exif_rotation_applied(tmp_path):
    rgb = np.zeros((20, 30, 3), np.uint8)
    image = Image.fromarray(rgb)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 on display
    image.save(tmp_path / "r.jpg", exif=exif)
    assert read_photo(tmp_path / "r.jpg").shape == (30, 20, 3)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"), (b"this is not an image", "not an image"),
])
def test_bad_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "top.jpg"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as error:
        read_photo(path)
    assert str(path) in str(error.value)


def test_truncated_jpeg(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(
        buffer, format="JPEG")
    path = tmp_path / "t.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(InputError, match="t.jpg"):
        read_photo(path)


def test_huge_image_refused_before_decoding(tmp_path):
    path = _save(tmp_path / "big.png", np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(InputError, match="limit"):
        read_photo(path, max_pixels=5000)


def header_only_png(path, width, height, mode=0):
    """A PNG that declares width x height (8-bit; gray when ``mode`` is 0, RGB when 2) and holds
    almost no pixel data: Pillow reads the size from the header without allocating the image."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, mode, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("width, height", [(10_000, 9_000), (20_000, 20_000)])
def test_photos_above_pillows_own_limit_get_the_documented_message(tmp_path, width, height):
    """90 MP is above Pillow's warning limit (89 MP), 400 MP above its error limit (179 MP): the
    message is still autosalt's, naming the file, the size and the limit."""
    path = header_only_png(tmp_path / "huge.png", width, height, mode=2)
    with pytest.raises(InputError, match=r"huge.png: image is \d+x\d+ = \d+ MP, above the 80 MP "
                                         r"limit; downscale it first \(or raise --max-pixels\)"):
        read_photo(path)


def test_max_pixels_raises_the_limit_above_pillows_own(tmp_path):
    """With --max-pixels above the photo, a 90 MP photo is decoded (this one then fails as the
    truncated file it is), not refused as a decompression bomb."""
    path = header_only_png(tmp_path / "big.png", 10_000, 9_000)
    with pytest.raises(InputError) as refused:
        read_photo(path, max_pixels=100_000_000)
    assert "corrupt or truncated" in str(refused.value)
    assert "limit" not in str(refused.value) and "bomb" not in str(refused.value)


def test_mask_class_ids_checked(tmp_path):
    mask = np.zeros((10, 10), np.uint8)
    mask[0, 0] = 7
    path = _save(tmp_path / "m.png", mask)
    with pytest.raises(InputError, match=r"unknown class ids \[7\]"):
        read_mask(path)
    rgb_mask = _save(tmp_path / "rgb.png", np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(InputError, match="single-channel"):
        read_mask(rgb_mask)


def test_loss_map_scaled(tmp_path):
    path = _save(tmp_path / "l.png", np.full((4, 4), 255, np.uint8))
    assert read_loss_map(path).max() == pytest.approx(1.0)


def test_atomic_writers_leave_no_temp_files(tmp_path):
    write_csv_atomic(tmp_path / "t.csv", [{"patient": "007", "salt": 12.345}], ["patient", "salt"])
    assert (tmp_path / "t.csv").read_text() == "patient,salt\n007,12.35\n"
    write_png_atomic(tmp_path / "p.png", np.zeros((3, 3), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png", "t.csv"]


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _display_p3_profile() -> bytes:
    """An ICC profile with Display P3's primaries (D50-adapted colorants, sRGB's tone curves),
    made by editing PIL's built-in sRGB profile: no profile file needs to ship with the tests."""
    import struct

    data = bytearray(_srgb_profile())
    data[84:100] = bytes(16)  # no profile ID (an MD5 of the old contents)
    count = struct.unpack(">I", data[128:132])[0]
    tags = {}
    for index in range(count):
        signature, offset, _ = struct.unpack(">4sII", data[132 + 12 * index: 144 + 12 * index])
        tags[signature] = offset
    colorants = {b"rXYZ": (0.5151, 0.2412, -0.0011), b"gXYZ": (0.2920, 0.6922, 0.0419),
                 b"bXYZ": (0.1571, 0.0666, 0.7841)}
    for signature, xyz in colorants.items():
        data[tags[signature] + 8: tags[signature] + 20] = struct.pack(">3i", *(round(v * 65536) for v in xyz))
    return bytes(data).replace("sRGB".encode("utf-16-be"), "DP_3".encode("utf-16-be"))  # its name


def test_photo_colour_profiles_are_converted_to_srgb(tmp_path):
    pixels = np.zeros((8, 8, 3), np.uint8)
    pixels[:] = (180, 120, 100)  # a skin tone
    image = Image.fromarray(pixels)
    image.save(tmp_path / "p3.png", icc_profile=_display_p3_profile())
    image.save(tmp_path / "srgb.png", icc_profile=_srgb_profile())
    image.save(tmp_path / "broken.png", icc_profile=b"not a profile")
    image.save(tmp_path / "untagged.png")
    converted = read_photo(tmp_path / "p3.png")[0, 0].astype(int)
    # The same numbers mean a more saturated colour in P3: in sRGB red rises, green and blue fall.
    assert converted[0] > 185 and converted[1] < 118 and converted[2] < 98
    for name in ("srgb.png", "broken.png", "untagged.png"):
        assert np.array_equal(read_photo(tmp_path / name), pixels), name

