"""Single-item model files (issue 32, item 4): every load names the file and says what it found (kind, method,
family); a file of another kind is refused naming the file, the expected and the found kind; a corrupt or unsafe file
is refused naming the file, and never with advice to load it unsafely."""

from __future__ import annotations

import logging
import pickle

import pytest
import torch

from pipeline_lib.core import io
from pipeline_lib.single_item.mechanisms.myersonnet_auction import MyersonNet
from pipeline_lib.single_item.mechanisms.nets import SingleItemNet, model_payload
from pipeline_lib.stages.single_item_models import ModelFileError, describe, read_model

FAMILY = "uniform"


def _regretnet(path):
    payload = {"kind": "regretnet", **model_payload(SingleItemNet(2, (4,)), {"family": FAMILY, "method": "regretnet"})}
    io.save_torch(payload, path)
    return path


def _myersonnet(path):
    net = MyersonNet(2, 2, 2)
    extra = {"family": FAMILY, "method": "myersonnet", "seed": 0}
    io.save_torch({"kind": "myersonnet", "config": net.config(), "state_dict": net.state_dict(), "extra": extra}, path)
    return path


def test_a_load_names_the_file_and_what_it_found(tmp_path, caplog):
    path = _myersonnet(tmp_path / "model.pt")
    with caplog.at_level(logging.INFO, logger="pipeline_lib.stages.single_item_models"):
        payload = read_model(path, "myersonnet", family=FAMILY)
    assert payload["kind"] == "myersonnet"
    assert f"{path}: kind myersonnet, method myersonnet, family uniform" in caplog.text.replace("model ", "")


def test_a_regretnet_model_in_the_myersonnets_place_is_refused_naming_file_expected_and_found(tmp_path):
    path = _regretnet(tmp_path / "regretnet" / "model.pt")
    with pytest.raises(ModelFileError) as err:
        read_model(path, "myersonnet", family=FAMILY)
    msg = str(err.value)
    assert str(path) in msg and "expected a myersonnet model" in msg
    assert "found kind regretnet, method regretnet, family uniform" in msg


def test_a_model_of_another_family_is_refused(tmp_path):
    path = _myersonnet(tmp_path / "model.pt")
    with pytest.raises(ModelFileError, match=r"model.pt: expected a model of family 'hetero', found kind myersonnet"):
        read_model(path, "myersonnet", family="hetero")


def test_networks_are_recognised_by_their_role(tmp_path):
    net = SingleItemNet(2, (4,))
    warm = describe(model_payload(net, {"family": FAMILY, "target": "myerson"}))
    start = describe(model_payload(net, {"family": FAMILY, "teacher": "myersonnet"}))
    final = describe(model_payload(net, {"family": FAMILY, "penalties": {}}))
    assert (warm.kind, warm.method) == ("single_item_net", "learned_phase1")
    assert (start.kind, start.method) == ("single_item_net", "regretnet_start")
    assert (final.kind, final.method, final.family) == ("single_item_net", "learned", FAMILY)
    assert describe({"alpha": 1, "boosts": 2, "family": "uniform"}).kind == "vvca_zfo"
    assert describe([1, 2]).kind.startswith("unknown")


def test_a_corrupt_file_is_refused_naming_it(tmp_path):
    path = _myersonnet(tmp_path / "model.pt")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelFileError) as err:
        read_model(path, "myersonnet")
    assert str(path) in str(err.value) and "not a readable model file" in str(err.value)
    with pytest.raises(ModelFileError, match="model file not found"):
        read_model(tmp_path / "missing.pt", "myersonnet")


class _Payload:
    def __reduce__(self):
        return (print, ("never run",))


def test_an_unsafe_file_is_refused_without_advice_to_load_it_unsafely(tmp_path, capsys):
    path = tmp_path / "model.pt"
    torch.save({"kind": "myersonnet", "x": _Payload()}, path)
    with pytest.raises(ModelFileError) as err:
        read_model(path, "myersonnet")
    msg = str(err.value)
    assert str(path) in msg and "refused" in msg and "never loaded" in msg
    assert "weights_only" not in msg and "False" not in msg
    assert "never run" not in capsys.readouterr().out
    assert isinstance(err.value, ValueError) and not isinstance(err.value, pickle.UnpicklingError)
