"""File checksums: the sha256 digests the course checks its data files and model weights against."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["file_sha256"]


def file_sha256(path: Path | str) -> str:
    """The sha256 digest of a file's bytes, read in chunks (large files never sit in memory whole).

    Args:
        path: the file.

    Returns:
        64 lowercase hex characters.
    """
    with Path(path).open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
