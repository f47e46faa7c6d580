"""Each default is declared once (issue 30, item 4): a config key takes its default from the schema (filled in by
``validate`` in workflow/rules/common.smk), a block handed to a settings dataclass takes the dataclass's defaults,
and config/config.yaml holds only what differs from those homes (plus the paper's settings tables)."""

from __future__ import annotations

import copy
import importlib
import re
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, validators
from snakemake_runs import REPO

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
PAPER = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
# config block -> the dataclass it is handed to (the block's defaults live there only)
DATACLASS_BLOCKS = {
    ("single_item", "training"): "TrainConfig",
    ("single_item", "evaluation"): "EvaluationConfig",
    ("single_item", "regretnet", "training"): "RegretNetConfig",
    ("single_item", "regretnet", "start"): "DistillConfig",
    ("single_item", "myersonnet", "training"): "MyersonNetConfig",
}


def _with_defaults(cls):
    """``cls`` extended to set the ``default`` of every absent property, as Snakemake's ``validate`` does."""
    check_properties = cls.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for name, sub in props.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, props, instance, schema)

    return validators.extend(cls, {"properties": properties})


FILLER = _with_defaults(Draft202012Validator)(SCHEMA)


def filled(config: dict) -> dict:
    """``config`` with the schema's defaults filled in (errors ignored: a removed required key has no default)."""
    out = copy.deepcopy(config)
    for _ in FILLER.iter_errors(out):
        pass
    return out


def paths(node: Any, prefix: tuple = ()):
    """Every key path of a nested mapping, outer before inner."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))


def get(config: Any, path: tuple) -> Any:
    for key in path:
        if not isinstance(config, dict) or key not in config:
            return MISSING
        config = config[key]
    return config


def settings_dataclass(name: str):
    """The settings dataclass ``name`` of the single-item study, wherever its module lives in the package."""
    for path in sorted((REPO / "src" / "pipeline_lib" / "single_item").rglob("*.py")):
        if re.search(rf"^class {name}\b", path.read_text(), re.M):
            module = ".".join(path.relative_to(REPO / "src").with_suffix("").parts)
            return getattr(importlib.import_module(module), name)
    raise AssertionError(f"no class {name} under src/pipeline_lib/single_item")


def dataclass_defaults(name: str) -> dict[str, Any]:
    out = {}
    for f in fields(settings_dataclass(name)):
        if f.default is not MISSING:
            out[f.name] = list(f.default) if isinstance(f.default, tuple) else f.default
    return out


def schema_repeats(config: dict) -> list[str]:
    """Paths of ``config`` whose value would come back unchanged from the schema's defaults if left out."""
    repeats: list[tuple] = []
    for path in paths(config):
        if any(path[: len(p)] == p for p in repeats):
            continue  # inside a block already found whole
        without = copy.deepcopy(config)
        del get(without, path[:-1])[path[-1]]
        if get(filled(without), path) == get(config, path):
            repeats.append(path)
    return [".".join(map(str, p)) for p in repeats]


def dataclass_repeats(config: dict) -> list[str]:
    """Paths of ``config`` in a block handed to a dataclass whose value is the dataclass's default."""
    repeats = []
    for block, name in DATACLASS_BLOCKS.items():
        values = get(config, block)
        defaults = dataclass_defaults(name)
        for key, value in ({} if values is MISSING else values).items():
            if key in defaults and value == defaults[key]:
                repeats.append(".".join((*block, key)))
    return repeats


def test_no_value_of_config_yaml_repeats_a_schema_default():
    repeats = schema_repeats(PAPER)
    assert not repeats, f"config/config.yaml repeats the schema's defaults at {repeats}: delete them from config.yaml"


def test_no_value_of_config_yaml_repeats_a_dataclass_default():
    repeats = dataclass_repeats(PAPER)
    assert not repeats, f"config/config.yaml repeats dataclass defaults at {repeats} ({DATACLASS_BLOCKS}): delete them"


@pytest.mark.parametrize("block", DATACLASS_BLOCKS, ids=".".join)
def test_the_schema_declares_no_default_of_a_dataclass_field(block):
    """A block handed to a dataclass gets no field default from the schema (it would be a second default)."""
    sub = SCHEMA
    for key in block:
        sub = sub["properties"][key]
    defaults = dataclass_defaults(DATACLASS_BLOCKS[block])
    declared = sorted(k for k, spec in sub.get("properties", {}).items() if k in defaults and "default" in spec)
    assert not declared, f"the schema declares defaults of {DATACLASS_BLOCKS[block]} fields {declared} in {block}"


def test_a_value_declared_in_two_homes_is_found():
    """The checks see a schema default (a leaf and a whole block) and a dataclass default written into the config."""
    config = copy.deepcopy(PAPER)
    config["data"]["row_group_size"] = 8192
    config["combinatorial"]["figures"] = {"smoothing": {"points": 801}}
    config["combinatorial"]["method_overrides"] = {}
    config["single_item"]["evaluation"] = {"grid": 1001, "refine_steps": 7}
    found = set(schema_repeats(config))
    assert {"data.row_group_size", "combinatorial.figures.smoothing.points", "combinatorial.method_overrides"} <= found
    assert dataclass_repeats(config) == ["single_item.evaluation.grid"]


def test_the_filler_fills_as_snakemake_validate(tmp_path: Path):
    """The filler of these tests fills exactly what the workflow's ``validate`` fills, for the paper tier."""
    from snakemake.utils import validate

    config = copy.deepcopy(PAPER)
    validate(config, schema=str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    assert filled(PAPER) == config
