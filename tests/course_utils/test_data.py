"""Tests for course_utils.data: bundled samples, offline folder, and real downloads from 127.0.0.1."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from course_utils.data import (
    DATA_FILES,
    STYLE_IMAGES,
    DataFile,
    DataIntegrityError,
    DataUnavailableError,
    fetch,
    load_image,
    load_imagenet_samples,
    load_imagenet_val,
)
from tests.helpers.markers import requires_course_data

PAYLOAD = b"course data payload\n" * 100


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A real HTTP server on 127.0.0.1 serving a temporary folder: yields (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def online(monkeypatch, tmp_path):
    """No offline folder, and an empty download cache of our own."""
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_download_with_good_hash_is_cached(http_root, online):
    """Is a download with the right sha256 kept, and served from the cache once the server is gone?"""
    root, base = http_root
    (root / "file.bin").write_bytes(PAYLOAD)
    spec = DataFile(relpath="sub/file.bin", sha256=_sha(PAYLOAD), url=f"{base}/file.bin")
    path = fetch(spec)
    assert path == online / "sub" / "file.bin"
    assert path.read_bytes() == PAYLOAD
    (root / "file.bin").unlink()  # the server no longer has it: the cache must answer
    assert fetch(spec) == path


def test_download_with_bad_hash_is_rejected(http_root, online):
    """Is a download whose sha256 differs refused with a clear error and never left in the cache?"""
    root, base = http_root
    (root / "file.bin").write_bytes(PAYLOAD + b"tampered")
    spec = DataFile(relpath="file.bin", sha256=_sha(PAYLOAD), url=f"{base}/file.bin")
    with pytest.raises(DataIntegrityError, match="did not match its sha256"):
        fetch(spec)
    assert not (online / "file.bin").exists()
    assert not any(p.is_file() for p in online.rglob("*"))


def test_download_404_says_how_to_place_by_hand(http_root, online):
    """Does a missing remote file give an error naming the file, its URL and the manual fix?"""
    _, base = http_root
    spec = DataFile(relpath="styles/missing.jpg", sha256=_sha(PAYLOAD), url=f"{base}/missing.jpg")
    with pytest.raises(DataUnavailableError) as info:
        fetch(spec)
    message = str(info.value)
    assert "styles/missing.jpg" in message
    assert f"{base}/missing.jpg" in message
    assert "COURSE_DATA_DIR" in message


def test_download_of_archive_member(http_root, online):
    """Is a file that lives inside a zip on the server extracted and verified?"""
    root, base = http_root
    with zipfile.ZipFile(root / "bundle.zip", "w") as bundle:
        bundle.writestr("assignment3/styles/x.jpg", PAYLOAD)
        bundle.writestr("assignment3/other.txt", b"not needed")
    archive = (root / "bundle.zip").read_bytes()
    spec = DataFile(
        relpath="styles/x.jpg",
        sha256=_sha(PAYLOAD),
        url=f"{base}/bundle.zip",
        archive_sha256=_sha(archive),
        member="assignment3/styles/x.jpg",
    )
    path = fetch(spec)
    assert path.read_bytes() == PAYLOAD
    assert path == online / "styles" / "x.jpg"


def test_corrupted_cache_is_rejected(http_root, online):
    """Is a cached file that changed on disk refused instead of silently used?"""
    root, base = http_root
    (root / "file.bin").write_bytes(PAYLOAD)
    spec = DataFile(relpath="file.bin", sha256=_sha(PAYLOAD), url=f"{base}/file.bin")
    fetch(spec).write_bytes(b"bit rot")
    with pytest.raises(DataIntegrityError, match="expected"):
        fetch(spec)


def test_offline_folder_missing_file(tmp_path, monkeypatch):
    """Does an offline folder without the file give a clear error, with no download attempted?"""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailableError) as info:
        fetch("tubingen")
    message = str(info.value)
    assert "styles/tubingen.jpg" in message and "assignment3_jupyter.zip" in message


def test_offline_folder_wrong_hash(tmp_path, monkeypatch):
    """Is a file in the offline folder with the wrong sha256 rejected?"""
    (tmp_path / "imagenet_val_25.npz").write_bytes(b"not the real file")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataIntegrityError, match=DATA_FILES["imagenet_val_25"].sha256):
        load_imagenet_val()


def test_unknown_name():
    """Is an unknown data name answered with the list of known ones?"""
    with pytest.raises(KeyError, match="imagenet_val_25"):
        fetch("imagenet_val_1000")


def test_bundled_samples():
    """Do the foolbox samples load offline as (20, 224, 224, 3) uint8 with labels from file names?"""
    X, y, names = load_imagenet_samples()
    assert X.shape == (20, 224, 224, 3) and X.dtype == np.uint8
    assert y.dtype == np.int64 and y[0] == 243 and len(names) == 1000


@requires_course_data()
def test_imagenet_val_from_offline_folder():
    """Do CS231n's validation images load from the offline folder, with num respected?"""
    X, y, names = load_imagenet_val(num=5)
    assert X.shape == (5, 224, 224, 3) and X.dtype == np.uint8
    assert y.shape == (5,) and len(names) == 1000


@requires_course_data()
@pytest.mark.parametrize("name", STYLE_IMAGES)
def test_style_images_from_offline_folder(name):
    """Does every style image load by name, resized by its shorter side?"""
    img = load_image(name, size=64)
    assert img.mode == "RGB" and min(img.size) == 64


@requires_course_data()
def test_load_image_from_path(tmp_path):
    """Does load_image open a file path as well as a name?"""
    copy = tmp_path / "copy.jpg"
    shutil.copy(fetch("tubingen"), copy)
    assert load_image(copy).size == load_image("tubingen").size
    with pytest.raises(FileNotFoundError, match="tubingen"):
        load_image(tmp_path / "nope.jpg")
