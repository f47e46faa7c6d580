"""pipeline_lib.core.checkpoint: where checkpoints live, what keys them, and how they load (issue 14, items 5, 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_lib.core.checkpoint import checkpoint_dir_for, files_fingerprint


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("results/combinatorial/2x2_A/zfo_vvca/seed0/params.pt", "results/_ckpt/combinatorial/2x2_A/zfo_vvca/seed0"),
        (
            "/scratch/me/results/single_item/uniform/vvca_zfo/params.pt",
            "/scratch/me/results/_ckpt/single_item/uniform/vvca_zfo",
        ),
        ("/tmp/x/run/params.pt", "/tmp/x/run/_ckpt"),  # never /_ckpt at the file-system root
        ("out/run/params.pt", "out/_ckpt/run"),
    ],
)
def test_checkpoint_folder_sits_under_the_results_root(output, expected):
    assert checkpoint_dir_for(output) == Path(expected)


def test_files_fingerprint_follows_contents_not_names(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    a.write_bytes(b"123")
    b.write_bytes(b"123")
    c.write_bytes(b"124")
    assert files_fingerprint([a]) == files_fingerprint([b]) != files_fingerprint([c])
    assert files_fingerprint([a, c]) != files_fingerprint([c, a])
