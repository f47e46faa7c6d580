"""pipeline_lib.core.checkpoint: where checkpoints live, what keys them, and how they load (issue 14, items 5, 6)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline_lib.core.checkpoint import checkpoint_dir_for, checkpoint_file, files_fingerprint, load_checkpoint


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


# --- loading: weights_only=True (item 6) ----------------------------------------------------------------------


class Exploit:
    """Unpickling this object runs a shell command (what a crafted checkpoint file would do)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_checkpoint_that_would_run_code_is_refused_and_training_restarts(tmp_path, caplog):
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    torch.save({"fingerprint": "fp", "payload": Exploit(marker)}, checkpoint_file(ckpt))
    with caplog.at_level(logging.WARNING, logger="pipeline_lib.core.checkpoint"):
        assert load_checkpoint(ckpt, "fp") is None
    assert not marker.exists()  # nothing ran
    assert "refusing checkpoint" in caplog.text and "training restarts from scratch" in caplog.text


def test_real_training_states_load_with_weights_only(tmp_path):
    """The states the trainers write (parameters, Adam state, generator states, history, best iterate) are plain
    tensors and values: they load with weights_only=True, so resumption still resumes."""
    from pipeline_lib.core.seeds import vvca_run_seed
    from pipeline_lib.single_item.learning import report_net as tr
    from pipeline_lib.vvca import zfo
    from pipeline_lib.vvca.bids import BidSource
    from pipeline_lib.vvca.config import TrainConfig
    from pipeline_lib.vvca.parametrisation import Parametrisation

    rng = np.random.default_rng(0)
    src = BidSource(rng.random((128, 2, 2)), additive=True, device=torch.device("cpu"))
    cfg = TrainConfig(lr=0.05, q=2, sigma=0.01, iterations=5, batch_size=32, method="zfo_vvca", eval_every=2,
                      checkpoint_every=2, selection="best_val")  # fmt: skip

    class Stop(Exception):
        pass

    def stop(t, phi):
        if t == 4:
            raise Stop

    with pytest.raises(Stop):
        zfo.train(src, Parametrisation.full(2, 2), cfg, vvca_run_seed(1, "x", 0), src, str(tmp_path / "z"),
                  progress=False, on_iteration=stop)  # fmt: skip
    state = torch.load(checkpoint_file(tmp_path / "z"), weights_only=True)
    assert state["iteration"] == 4 and state["best"] is not None
    assert zfo.train(src, Parametrisation.full(2, 2), cfg, vvca_run_seed(1, "x", 0), src, str(tmp_path / "z"),
                     progress=False).resumed_from == 4  # fmt: skip

    values = rng.random((64, 3)).astype(np.float32)
    tcfg = tr.TrainConfig.from_mapping({"batch_size": 32, "phase2_epochs": 1, "regret_grid": 4, "regret_steps": 1,
                                        "val_monitor_profiles": 16, "hidden": [8]})  # fmt: skip
    stats = tr.ValueStats.from_train(values, tcfg.regret_grid)
    net = tr.build_net(3, tcfg, stats, torch.device("cpu"))
    pen = tr.Penalties(1.0, 1.0)
    tr.train_phase2(net, values, values, tcfg, pen, 3, tmp_path / "t", torch.device("cpu"), {"family": "u"})
    state = torch.load(checkpoint_file(tmp_path / "t"), weights_only=True)
    assert len(state["history"]) == 1 and "optimizer" in state and state["gen"].dtype == torch.uint8
