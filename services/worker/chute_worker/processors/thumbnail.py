"""`thumbnail`: Pillow thumbnails in WebP and JPEG, EXIF orientation applied, metadata
stripped, first frame of animations. The pixel count is checked from the header
before any decoding, so a small file claiming a huge canvas never allocates it."""

from __future__ import annotations

import io
import warnings
from typing import Annotated, Any

from PIL import Image, UnidentifiedImageError
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from chute_core.errors import ProcessorError
from chute_core.settings import CONFIG, CommaInts, CommaList, load
from chute_worker.processors import FileContext, ProcessorSpec

__all__ = ["ThumbnailProcessor", "ThumbnailSettings"]

MiB = 1024 * 1024
ACCEPTS = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff")
EXTENSIONS = {"webp": "webp", "jpeg": "jpg"}
# EXIF orientation -> the transpose that shows the image upright (as ImageOps does).
ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
EXIF_ORIENTATION = 0x0112


class ThumbnailSettings(BaseSettings):
    model_config = CONFIG

    thumbnail_sizes: CommaInts = Field(default_factory=lambda: [256, 1024])
    thumbnail_formats: CommaList = Field(default_factory=lambda: ["webp", "jpeg"], min_length=1)

    @field_validator("thumbnail_formats")
    @classmethod
    def _known_formats(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(EXTENSIONS))
        if unknown:
            raise ValueError(f"unknown format {unknown[0]!r}; use webp and/or jpeg")
        return value

    thumbnail_quality: Annotated[int, Field(ge=1, le=100)] = 80
    image_max_pixels: Annotated[int, Field(ge=1)] = 50_000_000
    thumbnail_max_input_bytes: Annotated[int, Field(ge=1)] = 200 * MiB
    thumbnail_timeout_seconds: Annotated[float, Field(gt=0)] = 60.0


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    transpose = ORIENTATION.get(orientation)
    return image.transpose(transpose) if transpose is not None else image


def _encodable(image: Image.Image, fmt: str) -> Image.Image:
    """JPEG has no alpha: flatten onto white; both formats want RGB(A), not palettes."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if fmt == "webp":
        return image.convert("RGBA" if has_alpha else "RGB")
    if has_alpha:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


class ThumbnailProcessor:
    def __init__(self, settings: ThumbnailSettings | None = None) -> None:
        self.settings = settings or load(ThumbnailSettings)
        self.spec = ProcessorSpec(
            name="thumbnail",
            accepts=ACCEPTS,
            max_input_bytes=self.settings.thumbnail_max_input_bytes,
            timeout_seconds=self.settings.thumbnail_timeout_seconds,
            cpu_bound=True,
            description="WebP/JPEG thumbnails, upright, without metadata",
        )

    def process_file(self, ctx: FileContext) -> dict[str, Any]:
        limit = self.settings.image_max_pixels
        Image.MAX_IMAGE_PIXELS = limit
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                return self._thumbnails(ctx, limit)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise ProcessorError("image_bomb", str(exc), retryable=False) from None
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
                raise ProcessorError(
                    "corrupt_input", f"not a readable image: {exc}", retryable=False
                ) from None

    def _thumbnails(self, ctx: FileContext, limit: int) -> dict[str, Any]:
        with Image.open(ctx.path) as image:  # reads the header only
            width, height = image.size
            if width * height > limit:
                raise ProcessorError(
                    "image_bomb",
                    f"{width}x{height} is {width * height} pixels; the limit is {limit}",
                    retryable=False,
                )
            source_format = image.format
            frames = getattr(image, "n_frames", 1)
            orientation = int(image.getexif().get(EXIF_ORIENTATION, 1) or 1)
            sizes = sorted(set(self.settings.thumbnail_sizes), reverse=True)
            image.seek(0)
            image.draft("RGB", (sizes[0], sizes[0]))  # JPEG decodes at a reduced scale
            current: Image.Image = image
            if image.mode not in ("RGB", "RGBA"):
                current = image.convert("RGBA" if "A" in image.getbands() else "RGB")
            thumbnails = []
            # Largest first, each next one shrunk from the previous: every step is cheap.
            for size in sizes:
                current.thumbnail((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)
                upright = _upright(current, orientation)
                for fmt in self.settings.thumbnail_formats:
                    buffer = io.BytesIO()
                    # Nothing of the original's metadata (EXIF, XMP, ICC) is passed on.
                    _encodable(upright, fmt).save(
                        buffer, format=fmt.upper(), quality=self.settings.thumbnail_quality
                    )
                    name = f"{size}.{EXTENSIONS[fmt]}"
                    ctx.write_result(name, buffer.getvalue(), f"image/{fmt}")
                    thumbnails.append(
                        {
                            "name": name,
                            "size": size,
                            "format": fmt,
                            "width": upright.width,
                            "height": upright.height,
                            "bytes": buffer.tell(),
                        }
                    )
        upright_w, upright_h = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
        return {
            "width": upright_w,
            "height": upright_h,
            "format": source_format,
            "frames": frames,
            "orientation": orientation,
            "thumbnails": thumbnails,
        }
