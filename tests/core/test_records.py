"""pipeline_lib.core.records: a record holding NaN is refused, so a table's "-" means missing (issue 14, item 1)."""

from __future__ import annotations

import math

import pytest

from pipeline_lib.core.records import RecordError, make_record, read_record


def test_a_record_with_a_nan_anywhere_is_refused_naming_file_and_key():
    rec = make_record(setting="2x2_A", method="vcg", seed=0, test_revenue={"mean": 0.8, "se": math.nan})
    with pytest.raises(RecordError, match=r"metrics.json: .*not finite \(NaN or infinity\) at \$\.test_revenue\.se"):
        read_record(rec, "metrics.json")
    rec = make_record(setting="uniform", method="learned", seed=0, test_revenue={"mean": 0.6, "se": 0.01})
    rec["metrics"] = {"regret_mean": {"value": math.nan}}
    with pytest.raises(RecordError, match=r"\$\.metrics\.regret_mean\.value"):
        read_record(rec, "x.json")


def test_a_missing_standard_error_is_null_and_reads_as_missing():
    rec = read_record(make_record(setting="u", method="vcg", seed=0, test_revenue={"mean": 0.8, "se": None}))
    assert math.isnan(rec.revenue_se)
