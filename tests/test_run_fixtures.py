"""Run files written before the measurement seam (issue 24) read, draw and report exactly as they did.

The fixtures and what the code of their time gave for them are in ``tests/fixtures`` (its README says
how they were made); every output is compared as text (CSV, JSON) or as a digest of the drawn pixels.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _expected_outputs():
    spec = importlib.util.spec_from_file_location("expected_outputs", FIXTURES / "expected_outputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXPECTED = _expected_outputs()


@pytest.mark.parametrize("name", EXPECTED.RUNS)
def test_a_run_file_from_before_reads_draws_and_reports_identically(name):
    for file, text in EXPECTED.outputs(name).items():
        stored = (FIXTURES / "expected" / file).read_text()
        if file.endswith(".json"):  # compared as data first, for a readable difference
            assert json.loads(text) == json.loads(stored), file
        assert text == stored, file
