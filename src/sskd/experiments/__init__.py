"""Experiments built from runs: the demo, and (later) the papers' tables."""
