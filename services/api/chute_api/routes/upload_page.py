"""The browser upload page at /upload: Uppy's Dashboard (vendored, no Node at run
time), direct to S3 through routes/companion.py, with a Content-Security-Policy that
allows the page's own assets, the API and the bucket's S3 origins, and nothing else."""

from __future__ import annotations

import json
from importlib.resources import files
from string import Template

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from chute_api.deps import DirectUploadsDep, SettingsDep

__all__ = ["ASSETS", "PAGE", "assets", "router"]

PAGE = "/upload"
ASSETS = "/upload/assets"
RESUME_MAX_BYTES = 512 * 1024 * 1024  # what Golden Retriever may keep in IndexedDB
_TEMPLATE = Template(files("chute_api").joinpath("templates/upload.html").read_text())

router = APIRouter(tags=["browser uploads"])


def assets() -> StaticFiles:
    return StaticFiles(directory=str(files("chute_api").joinpath("static")))


@router.get(PAGE, response_class=HTMLResponse, include_in_schema=False)
async def upload_page(
    request: Request, settings: SettingsDep, direct: DirectUploadsDep
) -> HTMLResponse:
    base = str(request.base_url).rstrip("/")
    config = {
        "api": f"{base}/v1",
        "multipartAbove": settings.presign_part_bytes,
        "resumeMaxBytes": RESUME_MAX_BYTES,
    }
    # Absolute asset URLs: a copy of this page served from another origin still works.
    page = _TEMPLATE.substitute(
        assets=f"{base}{ASSETS}",
        config=json.dumps(config).replace("<", "\\u003c"),
    )
    s3 = " ".join(await direct.browser_origins())
    api = f"{request.base_url.scheme}://{request.base_url.netloc}"
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {api}",
            f"style-src 'self' {api}",
            f"img-src 'self' data: blob: {s3}",
            f"connect-src 'self' {api} {s3}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": policy,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )
