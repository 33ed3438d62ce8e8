"""chute's HTTP API."""

from chute_api.app import create_app

__all__ = ["create_app"]
