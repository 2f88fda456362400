"""Benchmarks of the socklab images: start-up (``python -m bench.startup``), throughput (``bench.throughput``).

Each writes a Markdown table and a PNG under ``bench/results/``; see ``bench/README.md``.
"""
