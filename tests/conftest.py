"""Shared test settings: Hypothesis profiles (``HYPOTHESIS_PROFILE=ci|dev|proof``)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# ci: what `make test` runs on 2 cores in well under 10 minutes; proof: `make proof`.
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    print_blob=True,
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "proof",
    max_examples=5000,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
