"""Reading photos, masks and loss maps safely; writing every output atomically.

Every reader raises :class:`InputError` with a message naming the file and what is wrong,
so a batch can record the problem and go on. Writers go through a temporary file in the
destination folder and ``os.replace`` it into place, so a killed run never leaves a
half-written table or image behind. Output paths built from ids or names found in the
input go through :func:`path_inside` (and :func:`safe_name`), which keep them inside the
output folder.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from autosalt.contract import LOSS_MAP_SCALE, VALID_MASK_VALUES

#: Photos larger than this are refused before decoding (a decompression bomb guard that
#: also keeps memory flat): 80 megapixels is above any clinic camera.
DEFAULT_MAX_PIXELS = 80_000_000
#: Every image is opened through :func:`open_image`, which checks its size from the header
#: against the caller's limit (``--max-pixels``), so Pillow's own fixed limit is off.
Image.MAX_IMAGE_PIXELS = None


_UMASK = os.umask(0)
os.umask(_UMASK)


class InputError(Exception):
    """A user's file cannot be used; the message names the file and says why."""


@contextlib.contextmanager
def open_image(source: str | os.PathLike | io.BytesIO, max_pixels: int = DEFAULT_MAX_PIXELS,
               name: object = None) -> Iterator[Image.Image]:
    """``Image.open`` that refuses an image above ``max_pixels`` from its header, before decoding.

    ``name`` is what the message calls the image (default: ``source``).
    """
    with Image.open(source) as image:
        width, height = image.size
        if width * height > max_pixels:
            raise InputError(
                f"{source if name is None else name}: image is {width}x{height} = "
                f"{width * height / 1e6:.0f} MP, above the {max_pixels / 1e6:.0f} MP limit; "
                "downscale it first (or raise --max-pixels)")
        yield image


def read_photo(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read a photo as sRGB ``uint8`` of shape (H, W, 3), EXIF orientation applied.

    Grayscale, palette, alpha, CMYK and 16-bit images are converted, and an embedded colour
    profile other than sRGB (Display P3 on phones, Adobe RGB on cameras) is converted to sRGB,
    the space the model was trained in; corrupt, truncated, empty, non-image and over-large
    files raise :class:`InputError`.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise InputError(f"{path}: cannot read file ({error.strerror})") from None
    if size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")
    try:
        with open_image(path, max_pixels) as image:
            image.load()  # decodes now, so truncation is caught here
            image = _to_srgb(ImageOps.exif_transpose(image), image.info.get("icc_profile"))
            return _to_rgb8(image, path)
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image file (or a format that cannot be read)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{path}: corrupt or truncated image ({error})") from None


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """``image`` converted from its embedded ICC profile to sRGB (8-bit RGB and CMYK images).

    Without a profile, with an sRGB one, or with one littleCMS cannot use, the pixels are
    taken as sRGB unchanged, as every viewer does with untagged photos.
    """
    if not icc_profile or image.mode not in ("RGB", "CMYK"):
        return image
    from PIL import ImageCms

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        if "srgb" in ImageCms.getProfileDescription(profile).lower().replace(" ", ""):
            return image
        return ImageCms.profileToProfile(image, profile, ImageCms.createProfile("sRGB"),
                                         renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image


def _to_rgb8(image: Image.Image, path: Path) -> np.ndarray:
    """Convert any PIL mode to RGB uint8; 16-bit and float data are scaled, not clipped."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        data = np.asarray(image, dtype=np.float64)
        high = 65535.0 if image.mode.startswith("I;16") or data.max(initial=0) > 255 else 255.0
        gray = np.clip(data / high * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Composite on white: transparent backgrounds are studio backdrops, not black holes.
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.size == 0:
        raise InputError(f"{path}: unexpected image layout {rgb.shape}")
    return np.ascontiguousarray(rgb)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a class-id mask PNG as ``uint8`` (H, W); values outside the contract are an error."""
    path = Path(path)
    array = _read_single_channel(path, "mask")
    values = np.unique(array)
    unknown = sorted(set(values.tolist()) - VALID_MASK_VALUES)
    if unknown:
        raise InputError(f"{path}: unknown class ids {unknown[:10]} in mask; "
                         f"allowed are {sorted(VALID_MASK_VALUES)}")
    return array


def read_loss_map(path: str | os.PathLike) -> np.ndarray:
    """Read a loss-fraction PNG (fraction x 255) as ``float32`` (H, W) in [0, 1]."""
    return _read_single_channel(Path(path), "loss map").astype(np.float32) / LOSS_MAP_SCALE


def _read_single_channel(path: Path, what: str) -> np.ndarray:
    try:
        if path.stat().st_size == 0:
            raise InputError(f"{path}: {what} file is empty (0 bytes)")
        with open_image(path) as image:
            image.load()
            if image.mode not in ("L", "P"):
                raise InputError(f"{path}: {what} must be a single-channel 8-bit PNG, "
                                 f"got mode {image.mode}")
            return np.array(image, dtype=np.uint8)
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"{path}: {what} file not found") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{path}: cannot read {what} ({error})") from None


# ----------------------------------------------------------------------------- output paths

#: Longest file name (UTF-8 bytes) written: an atomic write's temporary name adds 14 bytes, and
#: file systems allow 255.
MAX_NAME_BYTES = 240
#: Longest name :func:`safe_name` makes from an id: leaves room for a suffix and an extension.
MAX_ID_NAME_BYTES = 200
#: Path separators, control characters and the characters Windows forbids in names.
_UNSAFE_CHARACTERS = re.compile(r'[\x00-\x1f\x7f/\\<>:"|?*]')
#: Device names Windows reserves, with any extension (``CON``, ``nul.txt``).
_RESERVED_NAMES = frozenset({"CON", "PRN", "AUX", "NUL"} | {f"{port}{digit}" for port in ("COM", "LPT")
                                                             for digit in range(10)})


class UnsafePathError(InputError, ValueError):
    """An id or name cannot become a path inside the output folder; the message says why."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be one plain file or folder name on every system, or None."""
    if name in ("", ".", ".."):
        return "is empty, '.' or '..'"
    if _UNSAFE_CHARACTERS.search(name):
        return 'holds a path separator (/ or \\), a control character or one of <>:"|?*'
    if name.startswith("."):
        return "starts with '.' (a hidden name)"
    if name.endswith((" ", ".")):
        return "ends with a space or a dot"
    if name.split(".")[0].upper() in _RESERVED_NAMES:
        return "is a device name reserved on Windows"
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        return f"is longer than {MAX_NAME_BYTES} bytes"
    return None


def safe_name(name: str) -> str:
    """``name`` (an id) as one plain file name of at most ``MAX_ID_NAME_BYTES``: unchanged when it
    is one (:func:`name_problem`), else its usable characters, cut to length, plus ``~`` and a
    hash of the whole name, so that two ids never share a file."""
    encoded = name.encode("utf-8", "surrogateescape")
    if name_problem(name) is None and len(encoded) <= MAX_ID_NAME_BYTES:
        return name
    digest = hashlib.sha256(encoded).hexdigest()[:10]
    cleaned = _UNSAFE_CHARACTERS.sub("_", name).strip(" .")
    cleaned = cleaned.encode("utf-8", "surrogateescape")[:MAX_ID_NAME_BYTES - len(digest) - 2]
    cleaned = cleaned.decode("utf-8", "ignore")
    if cleaned.split(".")[0].upper() in _RESERVED_NAMES:
        cleaned = "_" + cleaned  # NUL.txt~1234 is still the device NUL on Windows
    return f"{cleaned}~{digest}" if cleaned else digest


def is_within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or inside it, after following symbolic links."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def path_inside(root: str | os.PathLike, *names: str) -> Path:
    """``root/names[0]/names[1]/...``, refused (:class:`UnsafePathError`) when a name is not one
    plain file name (:func:`name_problem`) or a symbolic link leads the path out of ``root``.

    Names made from ids found in the input go through :func:`safe_name` first, or are refused
    here with a message naming them.
    """
    root = Path(root)
    for name in names:
        problem = name_problem(name)
        if problem is not None:
            raise UnsafePathError(f"{name!r} cannot be a file or folder name in {root}: it {problem}")
    path = root.joinpath(*names)
    if not is_within(path, root):
        raise UnsafePathError(f"{path}: a symbolic link leads out of {root} (to {path.resolve()}); "
                              "autosalt writes only inside its output folder")
    return path


# ----------------------------------------------------------------------------- writing


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual mode
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, payload: object) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")


def write_png_atomic(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a uint8 (H, W) or RGB (H, W, 3) array as PNG."""
    if array.dtype != np.uint8:
        raise TypeError(f"PNG arrays must be uint8, got {array.dtype}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=3)
    write_bytes_atomic(path, buffer.getvalue())


def write_jpeg_atomic(path: str | os.PathLike, rgb: np.ndarray, quality: int = 92) -> None:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=int(quality))
    write_bytes_atomic(path, buffer.getvalue())


def format_cell(value: object) -> str:
    """Table cell text: floats with 2 decimals (contract section 4), None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (float, np.floating)):
        return "" if not np.isfinite(value) else f"{float(value):.2f}"
    return str(value)


def write_csv_atomic(path: str | os.PathLike, rows: Iterable[Mapping[str, object]],
                     columns: Sequence[str]) -> None:
    """Write rows (dicts) as a UTF-8 CSV with a header; missing keys become empty cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_cell(row.get(column)) for column in columns])
    write_text_atomic(path, buffer.getvalue())
