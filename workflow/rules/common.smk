# Config validation, wildcard constraints and every Python helper of the workflow (rules live in the other files).
import re

from snakemake.utils import validate

from pipeline_lib.settings import SPLITS, all_settings, combinatorial_settings, single_item_settings

validate(config, schema="../schemas/config.schema.yaml")

SETTINGS = all_settings(config)
SINGLE_ITEM_FAMILIES = sorted(single_item_settings(config))
COMBI_SETTINGS = sorted(combinatorial_settings(config))


def alternation(names):
    """Regex matching exactly one of ``names`` (a never-matching pattern when empty)."""
    return "|".join(map(re.escape, names)) if names else "(?!x)x"


wildcard_constraints:
    setting=alternation(sorted(SETTINGS)),
    split=alternation(SPLITS),
    seed=r"\d+",


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


def dataset_targets():
    """Every dataset: all settings, all splits."""
    return expand("results/data/{setting}/{split}.parquet", setting=sorted(SETTINGS), split=SPLITS)


# --- targets of the later stages; each stage's owner fills in its own function -------------------------------
def combinatorial_baseline_targets():
    """results/baselines/{setting}/{baseline}.json of the combinatorial settings."""
    return []


def single_item_targets():
    """Warm starts, sweeps, final models, single-item baselines, Table 1 and its figures."""
    return []


def combinatorial_targets():
    """ZFO-VVCA / FO-VVCA / BBBVVCA / Lottery AMA / AMenuNet runs per setting and seed."""
    return []


def report_targets():
    """Table 2 and Figures 1 to 3."""
    return []


def get_final_outputs():
    """Everything `rule all` builds."""
    return [
        *dataset_targets(),
        *combinatorial_baseline_targets(),
        *single_item_targets(),
        *combinatorial_targets(),
        *report_targets(),
    ]
