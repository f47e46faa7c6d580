"""pipeline_lib.core.io: atomic writers; JSON refuses NaN and infinities (issue 14, item 1)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pipeline_lib.core import io


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"test_revenue": {"mean": 0.5, "se": math.nan}}, r"\$\.test_revenue\.se = nan"),
        ({"history": [{"val": 1.0}, {"val": math.inf}]}, r"\$\.history\[1\]\.val = inf"),
        ({"ci": np.array([0.1, -np.inf])}, r"\$\.ci\[1\] = -inf"),
        ({"x": np.float64("nan")}, r"\$\.x = nan"),
    ],
)
def test_write_json_refuses_non_finite_numbers_naming_the_file_and_key(tmp_path, payload, where):
    path = tmp_path / "metrics.json"
    with pytest.raises(io.NonFiniteJSONError, match=rf"refusing to write {path}: {where}"):
        io.write_json(path, payload)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


def test_write_json_writes_null_for_an_explicitly_missing_number(tmp_path):
    path = tmp_path / "metrics.json"
    io.write_json(path, {"se": io.finite_or_none(math.nan), "mean": io.finite_or_none(np.float32(0.5))})
    assert json.loads(path.read_text()) == {"se": None, "mean": 0.5}
    assert "NaN" not in path.read_text()


def test_identical_torch_payloads_give_identical_bytes_whatever_the_file(tmp_path):
    """Issue 14 item 8: torch.save names the archive after the (temporary, random) file; identical runs must
    still write identical .pt files."""
    import torch

    payload = {"alpha": torch.arange(6.0).reshape(2, 3), "setting": "2x2_A", "seed": 0}
    a, b = tmp_path / "run1" / "params.pt", tmp_path / "run2" / "params.pt"
    io.save_torch(payload, a)
    io.save_torch(payload, b)
    io.save_torch(payload, tmp_path / "other_name.pt")
    assert a.read_bytes() == b.read_bytes() == (tmp_path / "other_name.pt").read_bytes()
    assert torch.equal(io.load_torch(a)["alpha"], payload["alpha"])
