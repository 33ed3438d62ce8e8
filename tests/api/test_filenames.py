"""Client file names become safe metadata: last segment, no control characters."""

import pytest

from chute_api.errors import BadUpload
from chute_api.filenames import sanitize_filename


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("bad\x00name\r\n.txt", "badname.txt"),
        ("e\u0301t\u00e9.txt", "\u00e9t\u00e9.txt"),
        ("right\u202eexe.txt", "rightexe.txt"),
        ("..", None),
        ("dir/", None),
        (None, None),
    ],
)
def test_file_names_are_reduced_to_safe_metadata(raw: str | None, clean: str | None) -> None:
    assert sanitize_filename(raw) == clean


def test_overlong_file_name_is_rejected() -> None:
    with pytest.raises(BadUpload, match="longer than 255"):
        sanitize_filename("a" * 300)
