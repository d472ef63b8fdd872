"""Benchmarks: JSON output, ratios measured in the same run."""
