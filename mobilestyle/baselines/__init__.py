"""Baselines: Gatys optimization, the Magenta peer."""
