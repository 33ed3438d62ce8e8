"""chute's shared core: what the API, the worker and the CLI agree on."""

__version__ = "0.1.0"
__all__ = ["__version__"]
