"""Files for processor tests, generated on the fly (no binary blobs in the repo):
ordinary images, archives and tables, and hostile ones crafted to hurt."""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
import zlib

from PIL import Image

MiB = 1024 * 1024
GiB = 1024 * MiB


def image(width: int, height: int, fmt: str = "PNG", *, orientation: int | None = None) -> bytes:
    picture = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    buffer = io.BytesIO()
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        picture.save(buffer, format=fmt, exif=exif.tobytes())
    else:
        picture.save(buffer, format=fmt)
    return buffer.getvalue()


def animated_gif(frames: int = 3) -> bytes:
    images = [Image.new("RGB", (64, 48), (i * 60, 0, 0)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=50)
    return buffer.getvalue()


def pixel_flood_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A 1x1 PNG whose header claims `width` x `height` (a decompression bomb)."""
    data = bytearray(image(1, 1))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in entries.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def _zeros_deflated(size: int, block: int = 16 * MiB) -> tuple[bytes, int]:
    """A raw deflate stream of `size` zero bytes and its CRC-32, built from one
    compressed block repeated (full flushes make blocks independent)."""
    assert size % block == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(block)
    one = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size // block):
        crc = zlib.crc32(zeros, crc)
    return one * (size // block) + b"\x03\x00", crc  # + an empty final block


def zip_bomb(entries: int = 11, entry_size: int = GiB) -> bytes:
    """A real zip bomb: `entries` files of `entry_size` zeros each (11 GiB by default),
    in a file of a few MiB. Written by hand: zipfile cannot reuse compressed data."""
    data, crc = _zeros_deflated(entry_size)
    out = io.BytesIO()
    central = []
    for i in range(entries):
        name = f"zeros-{i}.bin".encode()
        offset = out.tell()
        header = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), entry_size, len(name), 0
        )
        out.write(header + name + data)
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                8,
                0,
                0,
                crc,
                len(data),
                entry_size,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + name
        )
    start = out.tell()
    directory = b"".join(central)
    out.write(directory)
    out.write(
        struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, entries, entries, len(directory), start, 0)
    )
    return out.getvalue()


def nested_zip_bomb(layers: int = 8, per_layer: int = 3, entry_size: int = 512 * MiB) -> bytes:
    """Zips in a zip: each inner zip is a small bomb; only their sum is huge."""
    inner = zip_bomb(entries=per_layer, entry_size=entry_size)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for i in range(layers):
            archive.writestr(f"layer-{i}.zip", inner)
    return buffer.getvalue()


def tar_of(
    entries: dict[str, bytes], *, gz: bool = False, symlinks: dict[str, str] | None = None
) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gz else "w") as archive:
        for name, body in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()
