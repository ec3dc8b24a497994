"""Worked examples on real data sets."""
