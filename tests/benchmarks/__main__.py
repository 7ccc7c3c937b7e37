"""Run every benchmark module (or those named on the command line); print JSON and a table."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path


def _modules(names: list[str]) -> list[str]:
    found = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    return [m for m in found if not names or m.removeprefix("bench_") in names or m in names]


def main() -> None:
    results: dict[str, dict[str, object]] = {}
    for name in _modules(sys.argv[1:]):
        module = importlib.import_module(f"tests.benchmarks.{name}")
        results[name.removeprefix("bench_")] = module.run()
    print(json.dumps(results, indent=2, default=str))
    print()
    for bench, figures in results.items():
        cells = "  ".join(
            f"{key}={value}"
            for key, value in figures.items()
            if key != "table" and not isinstance(value, dict | list)
        )
        print(f"{bench:<14} {cells}")
        if isinstance(figures.get("table"), str):
            print(figures["table"])


if __name__ == "__main__":
    main()
