"""Benchmarks: ratios measured in one run. Each bench_*.py module exposes run() -> dict."""
