"""The thumbnail processor on generated images (in-process; the pool is tested e2e)."""

from pathlib import Path

import pytest
from PIL import Image

from chute_core.errors import ProcessorError
from chute_worker.processors.thumbnail import ThumbnailProcessor, ThumbnailSettings
from tests.support import files
from tests.support.file_runs import run_file

SETTINGS = ThumbnailSettings(thumbnail_sizes=[64, 16], thumbnail_formats=["webp", "jpeg"])


def test_thumbnails_fit_each_size_in_each_format(tmp_path: Path) -> None:
    summary, ctx = run_file(
        ThumbnailProcessor(SETTINGS), files.image(400, 200), "image/png", tmp_path
    )
    assert (summary["width"], summary["height"], summary["format"]) == (400, 200, "PNG")
    made = {(t["name"], t["width"], t["height"]) for t in summary["thumbnails"]}
    assert made == {("64.webp", 64, 32), ("64.jpg", 64, 32), ("16.webp", 16, 8), ("16.jpg", 16, 8)}
    for name, _, _ in made:
        with Image.open(ctx.out_dir / name) as thumb:
            assert thumb.format == ("WEBP" if name.endswith("webp") else "JPEG")
    assert {n for n, _ in ctx.outputs} == {m[0] for m in made}


def test_exif_orientation_is_applied_and_metadata_stripped(tmp_path: Path) -> None:
    body = files.image(400, 200, "JPEG", orientation=6)  # stored sideways: shows 200x400
    summary, ctx = run_file(ThumbnailProcessor(SETTINGS), body, "image/jpeg", tmp_path)
    assert (summary["width"], summary["height"], summary["orientation"]) == (200, 400, 6)
    with Image.open(ctx.out_dir / "64.jpg") as thumb:
        assert thumb.size == (32, 64)
        assert not thumb.getexif()
        assert "icc_profile" not in thumb.info


def test_animation_uses_its_first_frame(tmp_path: Path) -> None:
    summary, _ = run_file(
        ThumbnailProcessor(SETTINGS), files.animated_gif(3), "image/gif", tmp_path
    )
    assert summary["frames"] == 3
    assert summary["thumbnails"][0]["width"] == 64


def test_pixel_flood_is_an_image_bomb_before_decoding(tmp_path: Path) -> None:
    processor = ThumbnailProcessor(ThumbnailSettings(image_max_pixels=1_000_000))
    with pytest.raises(ProcessorError) as caught:
        run_file(processor, files.pixel_flood_png(100_000, 100_000), "image/png", tmp_path)
    assert caught.value.code == "image_bomb"
    assert not caught.value.retryable


def test_image_just_over_the_pixel_limit_is_a_bomb(tmp_path: Path) -> None:
    processor = ThumbnailProcessor(ThumbnailSettings(image_max_pixels=1000))
    with pytest.raises(ProcessorError, match="image_bomb"):
        run_file(processor, files.image(40, 26), "image/png", tmp_path)


def test_truncated_image_is_corrupt_input(tmp_path: Path) -> None:
    body = files.image(300, 300)[:200]
    with pytest.raises(ProcessorError) as caught:
        run_file(ThumbnailProcessor(SETTINGS), body, "image/png", tmp_path)
    assert caught.value.code == "corrupt_input"


def test_unknown_thumbnail_format_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from chute_core.errors import SettingsError

    monkeypatch.setenv("CHUTE_THUMBNAIL_FORMATS", "webp,gif")
    with pytest.raises(SettingsError, match="CHUTE_THUMBNAIL_FORMATS"):
        ThumbnailProcessor()
