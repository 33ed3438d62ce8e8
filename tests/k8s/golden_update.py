"""Record what the chart renders for the scenarios that predate pools (the golden test
compares against these files). Run `python -m tests.k8s.golden_update` after a change
that is meant to alter them, and review the diff it leaves in git."""

from __future__ import annotations

from pathlib import Path

from tests.k8s.chart import SCENARIOS, template_text

GOLDEN = Path(__file__).parent / "golden"
RECORDED = {name: args for name, args in SCENARIOS.items() if (GOLDEN / f"{name}.yaml").exists()}


def main() -> None:
    for name, args in RECORDED.items():
        (GOLDEN / f"{name}.yaml").write_text(template_text(*args))
        print(f"recorded {name}")


if __name__ == "__main__":
    main()
