# Config validation, global wildcard constraints and what every study shares: the dataset and baseline-record
# paths, the datasets' checks and `rule all`'s targets. Each study's helpers (and the one function building its
# result paths) sit beside its rules: single_item_helpers.smk, combinatorial_helpers.smk, report_helpers.smk.
# Torch-free: only the config, settings, registry and hyperparameter modules are imported while the DAG parses.
import re
from dataclasses import asdict

from snakemake.utils import validate

from pipeline_lib.core import methods
from pipeline_lib.core.config_checks import check_config
from pipeline_lib.core.data import dataset_identity
from pipeline_lib.core.settings import (
    SPLITS,
    all_settings,
    combinatorial_settings,
    single_item_settings,
)
from pipeline_lib.report.paper_values import TABLES as PAPER_TABLES
from pipeline_lib.single_item.mechanisms.priors import baseline_names
from pipeline_lib.vvca.config import resolve_config as resolve_zfo_config

validate(config, schema="../schemas/config.schema.yaml")
# what the schema cannot say (names vs sizes, active figure settings, menu_size, ranges)
check_config(config)

SETTINGS = all_settings(config)
SINGLE_ITEM_FAMILIES = sorted(single_item_settings(config))
COMBI_SETTINGS = sorted(combinatorial_settings(config))
SI = config["single_item"]
COMBI = config["combinatorial"]
LEARNED_RUNNERS = ("zfo_run", "randomized_run", "ama_run")
for _key in (*COMBI["methods"], *COMBI["method_overrides"]):
    if _key not in methods.METHODS or methods.method(_key).runner not in LEARNED_RUNNERS:
        raise ValueError(
            f"config combinatorial.methods / method_overrides: {_key!r} is not a learned combinatorial method of "
            f"the registry (pipeline_lib.core.methods); known: "
            f"{[k for r in LEARNED_RUNNERS for k in methods.keys(runner=r)]}"
        )


def alternation(names):
    """Regex matching exactly one of ``names`` (a never-matching pattern when empty)."""
    return "|".join(map(re.escape, names)) if names else "(?!x)x"


wildcard_constraints:
    setting=alternation(sorted(SETTINGS)),
    family=alternation(SINGLE_ITEM_FAMILIES),
    split=alternation(SPLITS),
    seed=r"\d+",
    table="table2a|table2b",


# --- datasets and baseline records (both studies) ------------------------------------------------------------------
def dataset_path(setting, split):
    """One split of a setting's or family's dataset (rule sample_dataset)."""
    return f"results/data/{setting}/{split}.parquet"


def baseline_record(setting, baseline):
    """The record of one baseline on a setting or family (rules single_item_baseline, combinatorial_baseline)."""
    return f"results/baselines/{setting}/{baseline}.json"


def dataset_params(wildcards):
    """Everything the sampler needs for one (setting, split): plain values, no config access in the script."""
    setting = SETTINGS[wildcards.setting]
    return {
        "setting": setting,
        "split": wildcards.split,
        "base_seed": int(config["seed"]),
        "num_rows": int(config["data"][setting.kind][wildcards.split]),
        "row_group_size": int(config["data"]["row_group_size"]),
    }


def data_check(kind):
    """What every consumer of a dataset of ``kind`` checks in its metadata besides setting and split: the config's
    base seed, split sizes and row-group size, and every value that defines the job's setting (its wildcard's, else
    each of the kind's; values, not paths; pipeline_lib.core.data.expected_metadata)."""

    def params(wildcards):
        name = wildcards.get("setting") or wildcards.get("family")
        names = (
            [name]
            if name in SETTINGS
            else [s for s in sorted(SETTINGS) if SETTINGS[s].kind == kind]
        )
        return {
            "base_seed": int(config["seed"]),
            "rows": {split: int(config["data"][kind][split]) for split in SPLITS},
            "row_group_size": int(config["data"]["row_group_size"]),
            "settings": {s: dataset_identity(SETTINGS[s]) for s in names},
        }

    return params


def dataset_targets():
    return [dataset_path(s, split) for s in sorted(SETTINGS) for split in SPLITS]


# --- rule all ----------------------------------------------------------------------------------------------------
def get_final_outputs():
    """Everything `rule all` builds."""
    return [
        *dataset_targets(),
        *combinatorial_baseline_targets(),
        *single_item_targets(),
        *run_targets("zfo_run"),
        *run_targets("randomized_run"),
        *run_targets("ama_run"),
        *report_targets(),
    ]
