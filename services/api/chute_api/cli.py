"""`chute api`: serve the API with uvicorn in the foreground."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from chute_api.api_keys import KeyFile

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("api")
    def api_command() -> None:
        """Serve the API (CHUTE_API_HOST, CHUTE_API_PORT) until SIGINT/SIGTERM."""
        import signal
        import sys

        import uvicorn

        from chute_api.allocator import keep_large_buffers_on_mmap
        from chute_api.app import create_app
        from chute_api.settings import ApiSettings
        from chute_core.logs import configure_logging
        from chute_core.settings import load
        from chute_core.tracing import configure_tracing

        settings = load(ApiSettings)
        keep_large_buffers_on_mmap()
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
            loop="uvloop",
            http="httptools",
            proxy_headers=True,
            timeout_graceful_shutdown=settings.api_shutdown_grace_seconds,
        )

    keys_app = typer.Typer(
        help="Manage API keys in CHUTE_API_KEYS_FILE (only hashes are stored).",
        no_args_is_help=True,
    )
    app.add_typer(keys_app, name="keys")

    def _keyfile() -> KeyFile:
        from chute_api.api_keys import KeyFile
        from chute_core.errors import SettingsError

        path = os.environ.get("CHUTE_API_KEYS_FILE")
        if not path:
            raise SettingsError("CHUTE_API_KEYS_FILE: set it to the keys file to manage")
        return KeyFile(Path(path))

    @keys_app.command("create")
    def keys_create(
        tenant: Annotated[str, typer.Option("--tenant", help="The tenant the key acts as.")],
    ) -> None:
        """Create a random key for TENANT: printed once, only its hash is stored."""
        from chute_api.api_keys import new_key

        key = new_key()
        digest = _keyfile().add(tenant, key)
        typer.echo(key)
        typer.echo(f"tenant {tenant}, hash {digest[:16]}… (the key is not shown again)", err=True)

    @keys_app.command("list")
    def keys_list() -> None:
        """Tenants and the hash prefixes of their keys."""
        for tenant, hashes in sorted(_keyfile().load().items()):
            for digest in hashes:
                typer.echo(f"{tenant:24} {digest[:16]}")

    @keys_app.command("revoke")
    def keys_revoke(
        prefix: Annotated[str, typer.Argument(help="The key's hash, or its first 8+ characters.")],
    ) -> None:
        """Remove one key; running APIs stop accepting it within a second."""
        tenant, digest = _keyfile().revoke(prefix)
        typer.echo(f"revoked {digest[:16]} of tenant {tenant}")
