"""Comparison reports of sweeps, built from the runs in the tracking store."""
