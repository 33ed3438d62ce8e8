"""Which processors this worker has: every `chute.processors` entry point, plus any
`module:attr` reference named in the routes (handy for tests and experiments)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from chute_core.errors import ChuteError
from chute_worker.processors import AsyncProcessor, FileProcessor, Processor, ProcessorSpec

__all__ = ["GROUP", "Installed", "Registry"]

GROUP = "chute.processors"


@dataclass(frozen=True)
class Installed:
    processor: Processor
    origin: str  # the distribution that provides it, or the module reference


def _origin(entry: EntryPoint) -> str:
    dist = entry.dist
    return f"{dist.name} {dist.version}" if dist is not None else entry.value


def _instantiate(factory: object, where: str) -> Processor:
    if not callable(factory):
        raise ChuteError(f"processor {where} is not callable")
    processor = factory()
    spec = getattr(processor, "spec", None)
    if not isinstance(spec, ProcessorSpec):
        raise ChuteError(f"processor {where} has no `spec: ProcessorSpec`")
    shape = FileProcessor if spec.cpu_bound else AsyncProcessor
    if not isinstance(processor, shape):
        method = "process_file(ctx)" if spec.cpu_bound else "async process(ctx)"
        raise ChuteError(f"processor {where} ({spec.name}) must define {method}")
    return processor


class Registry:
    def __init__(self, installed: dict[str, Installed]) -> None:
        self._installed = installed
        self._references: dict[str, str] = {}

    @classmethod
    def discover(cls, references: Iterable[str] = ()) -> Registry:
        installed: dict[str, Installed] = {}
        for entry in entry_points(group=GROUP):
            processor = _instantiate(entry.load(), f"entry point {entry.name!r}")
            if processor.spec.name != entry.name:
                raise ChuteError(
                    f"entry point {entry.name!r} names a processor called {processor.spec.name!r}"
                )
            installed[entry.name] = Installed(processor, _origin(entry))
        registry = cls(installed)
        for reference in references:
            registry.add_reference(reference)
        return registry

    def add_reference(self, reference: str) -> str:
        """Load `module:attr`, register it under its spec's name; return that name."""
        if reference in self._references:
            return self._references[reference]
        module, _, attr = reference.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ChuteError(f"cannot load processor {reference!r}: {exc}") from None
        processor = _instantiate(factory, repr(reference))
        self._installed[processor.spec.name] = Installed(processor, reference)
        self._references[reference] = processor.spec.name
        return processor.spec.name

    def name_of(self, item: str) -> str:
        """The processor name for a route item: a name, or a `module:attr` reference."""
        if ":" in item:
            return self.add_reference(item)
        if item not in self._installed:
            raise ChuteError(f"unknown processor {item!r}; installed: {', '.join(self.names())}")
        return item

    def get(self, name: str) -> Processor | None:
        found = self._installed.get(name)
        return found.processor if found else None

    def names(self) -> list[str]:
        return sorted(self._installed)

    def installed(self) -> list[Installed]:
        return [self._installed[name] for name in self.names()]
