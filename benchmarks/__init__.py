"""Benchmarks of quotio-gateway against the anchors in ../shared/bench (entry point: run.py)."""
