"""The benchmarks run and end with one JSON object (tiny sizes: their numbers mean nothing)."""

from __future__ import annotations

import json

import pytest

from fer_helpers import bench


@pytest.mark.parametrize("what, n", [("transfer", 64), ("micro", 3)])
def test_a_benchmark_ends_with_one_json_line(what, n, capsys):
    assert bench.main([what, "--n", str(n)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(last)
    assert result["benchmark"] == what and result["cpu"]
    assert all(v is None or v == v for v in result.values() if isinstance(v, float))  # no NaN
