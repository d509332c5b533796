"""Tests of the pure core, one module per core module (plus the driver they share)."""
