"""`chute api`: serve the API with uvicorn in the foreground."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("api")
    def api_command() -> None:
        """Serve the API (CHUTE_API_HOST, CHUTE_API_PORT) until SIGINT/SIGTERM."""
        import signal
        import sys

        import uvicorn

        from chute_api.app import create_app
        from chute_core.logs import configure_logging
        from chute_core.settings import ApiSettings, load
        from chute_core.tracing import configure_tracing

        settings = load(ApiSettings)
        configure_logging()
        configure_tracing("api")
        # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal to the
        # handler that was installed before it: make that one a clean exit 0.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        uvicorn.run(
            create_app(api=settings),
            host=settings.api_host,
            port=settings.api_port,
            log_config=None,
            proxy_headers=True,
            timeout_graceful_shutdown=10,
        )
