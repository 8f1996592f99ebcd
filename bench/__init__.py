"""Benchmarks, run by hand; results go into docs/benchmarks.md."""
