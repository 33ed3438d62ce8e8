"""Run every benchmark module listed in BENCHMARKS and print one table."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS: list[str] = []  # module names under bench/, each with run() -> list[row]


def main() -> int:
    if not BENCHMARKS:
        print("no benchmarks yet (see the benchmarks issue)")
        return 0
    for name in BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        for row in module.run():
            print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
