"""Hypothesis profiles for the fuzz tests.

`ci` (the default, used by `make test`): a bounded number of examples per property, derandomized
(the same examples on every run, so CI never fails by chance) and no example database.
`deep`: many more random examples, remembering failures in `.hypothesis/`; run it with
`FUZZ_PROFILE=deep .venv/bin/pytest tests/fuzz`. `FUZZ_EXAMPLES=n` overrides the count of either.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# The properties run against real servers (PostgreSQL, the AWS emulator, the gateway): examples
# are slow by unit-test standards, and a fixture's state deliberately carries across examples.
_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=60, derandomize=True, database=None, **_COMMON)
settings.register_profile("deep", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("FUZZ_PROFILE", "ci"))
if os.environ.get("FUZZ_EXAMPLES"):
    settings.register_profile("override", settings(max_examples=int(os.environ["FUZZ_EXAMPLES"])))
    settings.load_profile("override")
