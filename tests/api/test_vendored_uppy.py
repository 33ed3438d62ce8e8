"""The vendored Uppy bundle is exactly the pinned release: its licence and version file
sit beside it and every file matches its recorded SHA-256."""

from __future__ import annotations

import hashlib
from importlib.resources import files

VENDOR = files("chute_api").joinpath("static/vendor/uppy")


def test_every_vendored_file_matches_its_recorded_checksum() -> None:
    lines = VENDOR.joinpath("SHA256SUMS").read_text().splitlines()
    recorded = dict(reversed(line.split(maxsplit=1)) for line in lines)
    assert set(recorded) == {"uppy.min.js", "uppy.min.css", "LICENSE"}
    for name, digest in recorded.items():
        assert hashlib.sha256(VENDOR.joinpath(name).read_bytes()).hexdigest() == digest, name


def test_the_bundle_carries_its_licence_and_pinned_version() -> None:
    assert VENDOR.joinpath("LICENSE").read_text().startswith("The MIT License (MIT)")
    version = VENDOR.joinpath("VERSION").read_text()
    assert version.startswith("uppy 5.2.4\n")
    assert "uppy-5.2.4.tgz" in version
