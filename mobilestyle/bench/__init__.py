"""Benchmark harness behind `mobilestyle bench`."""
