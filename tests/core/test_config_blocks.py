"""The one strict ``from_mapping`` of the config dataclasses: an unknown key is an error naming the block, the key
and the known fields, for every single-item settings block (issue 29 item 7); before, several dropped it silently."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pipeline_lib.core.config_blocks import from_mapping
from pipeline_lib.single_item.evaluation.family_report import EvaluationConfig
from pipeline_lib.single_item.learning.distilled_start import DistillConfig
from pipeline_lib.single_item.learning.myersonnet import MyersonNetConfig
from pipeline_lib.single_item.learning.regretnet import RegretNetConfig
from pipeline_lib.single_item.learning.report_net import TrainConfig


@dataclass(frozen=True)
class Block:
    width: int = 3
    hidden: tuple[int, ...] = (4,)


def test_known_keys_fill_fields_lists_become_int_tuples_and_defaults_stay():
    assert from_mapping(Block, {"hidden": [5.0, 6]}, "x", tuples=("hidden",)) == Block(3, (5, 6))
    assert from_mapping(Block, None, "x") == Block()
    same = Block(7)
    assert from_mapping(Block, same, "x") is same


def test_an_unknown_key_names_the_block_the_key_and_the_fields():
    with pytest.raises(ValueError, match=r"a.b: unknown key\(s\) \['widht'\]; known: \['hidden', 'width'\]"):
        from_mapping(Block, {"widht": 4}, "a.b")


def test_keys_the_caller_handles_are_neither_fields_nor_errors():
    assert from_mapping(Block, {"width": 2, "teacher": "none"}, "x", handled=("teacher",)) == Block(2)


@pytest.mark.parametrize(
    ("cls", "key"),
    [
        (TrainConfig, "single_item.training"),
        (RegretNetConfig, "single_item.regretnet.training"),
        (MyersonNetConfig, "single_item.myersonnet.training"),
        (DistillConfig, "single_item.regretnet.start"),
        (EvaluationConfig, "single_item.evaluation"),
    ],
)
def test_every_single_item_settings_block_refuses_an_unknown_key(cls, key):
    with pytest.raises(ValueError, match=rf"{key}: unknown key\(s\) \['iteratoins'\]"):
        cls.from_mapping({"iteratoins": 5})
    assert cls.from_mapping({}) == cls()


def test_the_distillation_block_leaves_its_teacher_to_the_stage_and_tuples_are_tuples():
    assert DistillConfig.from_mapping({"teacher": "myersonnet", "iterations": 3}).iterations == 3
    cfg = RegretNetConfig.from_mapping({"hidden": [8, 8], "price_hidden": [4]})
    assert cfg.hidden == (8, 8) and cfg.price_hidden == (4,)
    assert TrainConfig.from_mapping({"hidden": [2]}).hidden == (2,)
