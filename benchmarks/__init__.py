"""Reproducible benchmarks of taskvisor against its peers: ``make bench``."""
