"""Benchmarks (not part of the hang package); see bench/README.md."""
