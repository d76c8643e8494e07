"""Images the course works on: labelled ImageNet photos and the style-transfer images.

Two kinds of source:

* **bundled**: :func:`load_imagenet_samples` reads the 20 labelled ImageNet photos that ship inside
  the PyPI package ``foolbox``; they work right after installation, offline.
* **downloaded**: CS231n's 25 ImageNet validation images and the style images are fetched on first
  use with ``pooch`` from their public origins, checked against their sha256, and cached.

For computer labs and CI, set the environment variable ``COURSE_DATA_DIR`` to a folder that
already holds the files (``imagenet_val_25.npz``, ``styles/<name>.jpg``); nothing is downloaded
then, and the files are still checked against their sha256.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pooch
from PIL import Image

from course_utils.checksums import file_sha256
from course_utils.image import IMAGE_SIZE
from course_utils.models import imagenet_class_names

__all__ = [
    "DATA_DIR_ENV",
    "DATA_FILES",
    "STYLE_IMAGES",
    "DataFile",
    "DataIntegrityError",
    "DataUnavailableError",
    "cache_dir",
    "fetch",
    "load_image",
    "load_imagenet_samples",
    "load_imagenet_val",
]

#: Environment variable naming a pre-populated data folder used instead of downloading.
DATA_DIR_ENV = "COURSE_DATA_DIR"
#: Environment variable overriding where downloads are cached (default: the OS user cache).
CACHE_DIR_ENV = "COURSE_CACHE_DIR"

_BUNDLE_URL = "https://cs231n.github.io/assignments/2020/assignment3_jupyter.zip"
_BUNDLE_SHA256 = "60580829f18462314732bdf95e136f6672ebee2b505a290acddd8b101d0cfd54"


class DataUnavailableError(RuntimeError):
    """A data file is neither in the offline folder nor downloadable."""


class DataIntegrityError(RuntimeError):
    """A data file exists but its sha256 is not the expected one."""


@dataclass(frozen=True)
class DataFile:
    """One file the course needs, where it comes from, and how to check it.

    Attributes:
        relpath: path inside the data folder, e.g. ``"styles/tubingen.jpg"``.
        sha256: expected sha256 of the file itself, hex.
        url: where to download it from (the file itself, or a zip archive holding it).
        archive_sha256: sha256 of the archive at ``url`` when the file is a member of it.
        member: the file's path inside that archive.
    """

    relpath: str
    sha256: str
    url: str
    archive_sha256: str | None = None
    member: str | None = None

    def how_to_place(self) -> str:
        """Instructions for putting the file in place by hand."""
        where = f"${DATA_DIR_ENV}/{self.relpath}"
        if self.member:
            return (
                f"download {self.url}, extract its member {self.member} and save it as {where} "
                f"(then set {DATA_DIR_ENV} to that folder)"
            )
        return f"download {self.url} and save it as {where} (then set {DATA_DIR_ENV} to that folder)"


def _style(name: str, sha256: str) -> DataFile:
    return DataFile(
        relpath=f"styles/{name}.jpg",
        sha256=sha256,
        url=_BUNDLE_URL,
        archive_sha256=_BUNDLE_SHA256,
        member=f"assignment3/styles/{name}.jpg",
    )


#: Every downloadable file, by short name.
DATA_FILES: dict[str, DataFile] = {
    "imagenet_val_25": DataFile(
        relpath="imagenet_val_25.npz",
        sha256="35141609d22457c791e8fbe10c2d3b09ed0d6a04b669173e9fbebb0b4915cd3c",
        url="http://cs231n.stanford.edu/imagenet_val_25.npz",
    ),
    "composition_vii": _style(
        "composition_vii", "8f992ed4aecd6dd56972d7bc8166761de7c94e670ee6effa8fd05f3daeb33409"
    ),
    "muse": _style("muse", "b8a36cd8752497510389782159ccf141d41c3446002a079b458fb7b774d3928a"),
    "starry_night": _style(
        "starry_night", "c31741a09141c2e2d07fc7aa6bdf135c369b804f9433e43fa3ceac19386d1ee6"
    ),
    "the_scream": _style("the_scream", "f3075cddeb974a9ee1d6418f7f33fd05185a7ac7dcb4288bd2805d499a9dcaee"),
    "tubingen": _style("tubingen", "e67d1869f01fd805385c681a80d9ebcf0f70ea4a5fe6127f0606bb1c7f4bf506"),
}

#: Names accepted by :func:`load_image`.
STYLE_IMAGES: tuple[str, ...] = ("tubingen", "composition_vii", "the_scream", "starry_night", "muse")


def cache_dir() -> Path:
    """Folder where downloads are kept: ``$COURSE_CACHE_DIR`` or the OS user cache."""
    return Path(os.environ.get(CACHE_DIR_ENV) or pooch.os_cache("cnn-inspection-course"))


def _verified(path: Path, data_file: DataFile, origin: str) -> Path:
    actual = file_sha256(path)
    if actual != data_file.sha256:
        raise DataIntegrityError(
            f"{path} (from {origin}) has sha256 {actual}, expected {data_file.sha256}. "
            f"The file is corrupt or not the right one; delete it and {data_file.how_to_place()}."
        )
    return path


def _download(data_file: DataFile, target_dir: Path) -> Path:
    target_dir.mkdir(parents=True, exist_ok=True)
    try:
        if data_file.member is None:
            fetched = pooch.retrieve(
                data_file.url,
                known_hash=f"sha256:{data_file.sha256}",
                fname=Path(data_file.relpath).name,
                path=target_dir,
                progressbar=False,
            )
            return Path(fetched)
        members = pooch.retrieve(
            data_file.url,
            known_hash=f"sha256:{data_file.archive_sha256}",
            path=target_dir,
            processor=pooch.Unzip(members=[data_file.member]),
            progressbar=False,
        )
        return Path(members[0])
    except ValueError as exc:  # pooch's hash mismatch; it has already deleted the file
        if "hash" not in str(exc).lower():
            raise
        raise DataIntegrityError(
            f"The download of {data_file.relpath} from {data_file.url} did not match its sha256 "
            f"and was discarded ({exc}). Try again later, or {data_file.how_to_place()}."
        ) from exc
    except Exception as exc:  # network errors come from requests/urllib and vary by platform
        raise DataUnavailableError(
            f"Cannot get {data_file.relpath}: downloading {data_file.url} failed "
            f"({type(exc).__name__}: {exc}). Without network access, {data_file.how_to_place()}."
        ) from exc


def fetch(name: str | DataFile, *, data_dir: str | Path | None = None) -> Path:
    """Return the local path of a course data file, downloading and verifying it if needed.

    Args:
        name: a key of :data:`DATA_FILES` (``"imagenet_val_25"``, ``"tubingen"``, ...) or a
            :class:`DataFile`.
        data_dir: offline folder to read from instead of downloading; default
            ``$COURSE_DATA_DIR`` if set. When set, the file must be there.

    Returns:
        Path to a file whose sha256 has been checked.

    Raises:
        KeyError: unknown name (the message lists the known ones).
        DataUnavailableError: not in the offline folder, or the download failed.
        DataIntegrityError: the file's sha256 is wrong (the file is never used then).
    """
    if isinstance(name, DataFile):
        data_file = name
    elif name in DATA_FILES:
        data_file = DATA_FILES[name]
    else:
        raise KeyError(f"Unknown data file {name!r}; known: {', '.join(sorted(DATA_FILES))}")

    offline = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    if offline:
        path = Path(offline).expanduser() / data_file.relpath
        if not path.is_file():
            raise DataUnavailableError(
                f"{data_file.relpath} is not in the offline data folder {offline} "
                f"(set by {DATA_DIR_ENV}). Put it there: {data_file.how_to_place()}; "
                f"or unset {DATA_DIR_ENV} to download it."
            )
        return _verified(path, data_file, f"the offline folder {offline}")

    cached = cache_dir() / data_file.relpath
    if cached.is_file():
        return _verified(cached, data_file, "the download cache")
    downloaded = _download(data_file, cache_dir() / "downloads")
    cached.parent.mkdir(parents=True, exist_ok=True)
    os.replace(_verified(downloaded, data_file, data_file.url), cached)
    return cached


def load_imagenet_samples(
    size: int = IMAGE_SIZE,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Load the 20 labelled ImageNet photos bundled with the PyPI package ``foolbox``.

    Works offline right after installation. The photos (mostly 512 x 512) are resized to
    ``size x size`` with PIL's bicubic filter, as ``foolbox.utils.samples`` does.

    Args:
        size: side length of the returned images, in pixels.

    Returns:
        ``X``: ``uint8`` array ``(20, size, size, 3)``, RGB;
        ``y``: ``int64`` array ``(20,)`` of ImageNet class indices (from the file names
        ``imagenet_NN_LABEL.jpg``);
        ``class_names``: the 1000 ImageNet class names, ``class_names[y[i]]`` names image ``i``.
    """
    # Locate the package without importing it: importing foolbox pulls in its attack library.
    spec = importlib.util.find_spec("foolbox")
    if spec is None or spec.origin is None:
        raise DataUnavailableError(
            "The bundled ImageNet samples come with the foolbox package, which is not installed: "
            "pip install foolbox"
        )
    folder = Path(spec.origin).parent / "data"
    pattern = re.compile(r"^imagenet_(\d+)_(\d+)\.jpg$")
    found = sorted(
        (int(m.group(1)), int(m.group(2)), folder / f.name)
        for f in folder.iterdir()
        if (m := pattern.match(f.name))
    )
    if not found:
        raise DataUnavailableError(
            f"No imagenet_NN_LABEL.jpg files in {folder}; reinstall foolbox: "
            "pip install --force-reinstall foolbox"
        )
    X = np.stack(
        [
            np.asarray(Image.open(path).convert("RGB").resize((size, size), Image.Resampling.BICUBIC))
            for _, _, path in found
        ]
    )
    y = np.array([label for _, label, _ in found], dtype=np.int64)
    return X, y, imagenet_class_names()


def load_imagenet_val(num: int | None = None) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Load CS231n's 25 ImageNet validation images (``imagenet_val_25.npz``).

    Args:
        num: return only the first ``num`` images (default: all 25).

    Returns:
        ``X``: ``uint8`` ``(num, 224, 224, 3)``; ``y``: ``int64`` ``(num,)``;
        ``class_names``: the 1000 ImageNet class names.
    """
    path = fetch("imagenet_val_25")
    with np.load(path, allow_pickle=True) as f:
        X, y = f["X"], f["y"].astype(np.int64)
    if num is not None:
        if num < 1:
            raise ValueError(f"num must be at least 1, got {num}")
        X, y = X[:num], y[:num]
    return X, y, imagenet_class_names()


def load_image(path_or_name: str | Path, size: int | None = None) -> Image.Image:
    """Open an RGB image from a file, or one of the course's style images by name.

    Args:
        path_or_name: a file path, or a name in :data:`STYLE_IMAGES`.
        size: if given, resize so that the shorter side has ``size`` pixels (aspect kept).

    Returns:
        A ``PIL.Image`` in RGB mode.
    """
    if str(path_or_name) in STYLE_IMAGES:
        path = fetch(str(path_or_name))
    else:
        path = Path(path_or_name)
        if not path.is_file():
            raise FileNotFoundError(
                f"No image file at {path}; give a path to an image or one of {', '.join(STYLE_IMAGES)}"
            )
    img = Image.open(path).convert("RGB")
    if size is not None:
        scale = size / min(img.size)
        img = img.resize(
            (max(1, round(img.width * scale)), max(1, round(img.height * scale))),
            Image.Resampling.BICUBIC,
        )
    return img
