"""Benchmarks for the seat server, each measured next to its baseline in the same run.

``python -m bench`` starts the server on its own ports and database, runs the load and prints the table;
``python -m bench --quick`` is the small correctness-only configuration CI runs.
"""
