# Config validation, wildcard constraints and every Python helper of the workflow (rules live in the other files).
import re
from dataclasses import asdict
from pathlib import Path

from snakemake.utils import validate

from pipeline_lib.report.paper_values import TABLES as PAPER_TABLES
from pipeline_lib.core.settings import SPLITS, all_settings, combinatorial_settings, single_item_settings
from pipeline_lib.vvca.zfo import resolve_config as resolve_zfo_config

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
    """results/baselines/{setting}/{baseline}.json of the combinatorial settings: VCG everywhere, Item-Myerson
    for the additive settings (A, B, C; the paper reports "-" for (D))."""
    additive = [s for s in COMBI_SETTINGS if SETTINGS[s].distribution != "D"]
    return [
        *expand("results/baselines/{setting}/vcg.json", setting=COMBI_SETTINGS),
        *expand("results/baselines/{setting}/item_myerson.json", setting=additive),
    ]


# --- single-item neural mechanisms (issue 5): warm start -> sweep -> final seeds -> evaluation, Table 1 ---------
def si_block(key):
    """One block of the single_item config (schema defaults filled in)."""
    return dict(config["single_item"].get(key, {}))


def si_family(wildcards):
    """The family's distribution parameters (plain dict)."""
    return dict(config["single_item"]["families"][wildcards.family])


def si_seeds():
    """Seed indices of the final training runs."""
    return [int(s) for s in si_block("final").get("seeds", [0])]


def si_baselines(family):
    """Single-item baselines that apply to ``family`` (Myerson only for i.i.d. families with a known prior)."""
    from pipeline_lib.single_item.auctions import baseline_names

    return baseline_names(
        config["single_item"]["families"][family], config["single_item"]["baselines"]
    )


def si_baseline_inputs(wildcards):
    """Train/test splits of a family, plus the trained one-item VVCA for the ``vvca_zfo`` baseline."""
    inputs = {
        "train": f"results/data/{wildcards.family}/train.parquet",
        "test": f"results/data/{wildcards.family}/test.parquet",
    }
    if wildcards.baseline == "vvca_zfo":
        inputs["fitted"] = f"results/single_item/{wildcards.family}/vvca_zfo/params.pt"
    return inputs


def si_vvca_ckpt_dir(wildcards):
    """Checkpoints of the one-item VVCA training: not a declared output."""
    return f"results/_ckpt/single_item/{wildcards.family}/vvca_zfo"


def si_storage(wildcards):
    """Optuna storage of a family's sweep: not a declared output (the suffix follows the storage kind)."""
    return f"results/single_item/{wildcards.family}/sweep/study.sqlite3"


def si_ckpt_dir(wildcards):
    """Per-epoch checkpoints of a final run: not a declared output (Snakemake deletes outputs)."""
    return f"results/_ckpt/single_item/{wildcards.family}/seed{wildcards.seed}"


def si_learned_evals(family):
    return expand(
        "results/single_item/{family}/final/seed{seed}/test_metrics.json",
        family=family,
        seed=si_seeds(),
    )


def si_baseline_files(family):
    return expand(
        "results/baselines/{family}/{baseline}.json", family=family, baseline=si_baselines(family)
    )


def si_table1_families(wildcards):
    """Table 1 layout: per family its distribution, n and evaluation files (learned seeds, baselines)."""
    return {
        family: {
            "distribution": config["single_item"]["families"][family]["distribution"],
            "n_bidders": int(config["single_item"]["n_bidders"]),
            "learned": si_learned_evals(family),
            "baselines": si_baseline_files(family),
        }
        for family in SINGLE_ITEM_FAMILIES
    }


def si_table1_inputs(wildcards):
    return [p for f in SINGLE_ITEM_FAMILIES for p in [*si_learned_evals(f), *si_baseline_files(f)]]


def si_figure_trials(wildcards):
    """Sweep exports of every family (figure: revenue against measured regret per trial)."""
    return {f: f"results/single_item/{f}/sweep/trials.json" for f in SINGLE_ITEM_FAMILIES}


def si_figure_models(wildcards):
    """The first final seed's model of every family (figure: one bidder's allocation and payment)."""
    return {
        f: f"results/single_item/{f}/final/seed{si_seeds()[0]}/model.pt"
        for f in SINGLE_ITEM_FAMILIES
    }


def si_figure_tests(wildcards):
    return {f: f"results/data/{f}/test.parquet" for f in SINGLE_ITEM_FAMILIES}


def si_figure_inputs(wildcards):
    return [
        p
        for block in (
            si_figure_trials(wildcards),
            si_figure_models(wildcards),
            si_figure_tests(wildcards),
        )
        for p in block.values()
    ]


def si_figure_families(wildcards):
    return {f: dict(config["single_item"]["families"][f]) for f in SINGLE_ITEM_FAMILIES}


def single_item_targets():
    """Warm starts, sweeps, final models, single-item baselines, Table 1 and its figures."""
    if not SINGLE_ITEM_FAMILIES:
        return []
    tables = expand("results/tables/table1.{ext}", ext=("csv", "md", "tex"))
    figures = expand(
        "results/figures/single_item_{fig}.{ext}", fig=("sweeps", "response"), ext=("png", "pdf")
    )
    return [*tables, *figures]


# --- ZFO-VVCA, FO-VVCA, BBBVVCA (issue 4) and Table 2 / Figures 1-3 ---------------------------------------
ZFO_METHODS = ("zfo_vvca", "fo_vvca", "bbbvvca")


def combinatorial_seeds():
    """Seed indices 0..seeds-1 of every learned combinatorial mechanism."""
    return list(range(int(config["combinatorial"].get("seeds", 1))))


def zfo_methods():
    """ZFO-VVCA / FO-VVCA / BBBVVCA, as far as `combinatorial.methods` lists them (default: all three)."""
    listed = config["combinatorial"].get("methods", ZFO_METHODS)
    return [method for method in ZFO_METHODS if method in listed]


def zfo_train_config(setting, method):
    """TrainConfig (as a dict) of one run: Table 3 < combinatorial.training < method_overrides, then tier caps."""
    block = config["combinatorial"]
    training = block.get("training", {})
    cfg = resolve_zfo_config(
        method,
        block["settings"][setting]["zfo"],
        training,
        block.get("method_overrides", {}).get(method),
        training.get("max_iterations"),
        training.get("max_batch_size"),
    )
    return asdict(cfg)


def zfo_run_params(wildcards):
    """Everything one ZFO/FO/BBB run needs: sizes, base seed and the resolved hyperparameters."""
    setting = SETTINGS[wildcards.setting]
    return {
        "n": setting.n,
        "m": setting.m,
        "base_seed": int(config["seed"]),
        "config": zfo_train_config(wildcards.setting, wildcards.method),
    }


def zfo_ckpt_dir(wildcards):
    """Resumable checkpoints of one run: deliberately not a declared output (Snakemake deletes outputs)."""
    return (
        f"results/_ckpt/combinatorial/{wildcards.setting}/{wildcards.method}/seed{wildcards.seed}"
    )


def combinatorial_targets():
    """metrics.json of every (active setting, ZFO/FO/BBB method, seed); params.pt and history come along."""
    return expand(
        "results/combinatorial/{setting}/{method}/seed{seed}/metrics.json",
        setting=COMBI_SETTINGS,
        method=zfo_methods(),
        seed=combinatorial_seeds(),
    )


# --- randomized affine maximizers (issue 6): Lottery AMA and AMenuNet ---------------------------------------
RANDOMIZED_METHODS = ("lottery_ama", "amenunet")


def randomized_settings():
    """Active additive combinatorial settings; the randomized baselines skip (D) (the paper reports "-")."""
    return [name for name in COMBI_SETTINGS if SETTINGS[name].distribution != "D"]


def randomized_methods():
    """Lottery AMA / AMenuNet, as far as `combinatorial.methods` lists them (default: both)."""
    listed = config["combinatorial"].get("methods", RANDOMIZED_METHODS)
    return [method for method in RANDOMIZED_METHODS if method in listed]


def randomized_params(wildcards):
    """Everything one randomized run needs: sizes, candidate size s, hyperparameters (with per-setting overrides)."""
    block = config["combinatorial"]["randomized"]
    setting = SETTINGS[wildcards.setting]
    menu_size = int(config["combinatorial"]["settings"][wildcards.setting]["menu_size"])
    if block.get("max_menu_size"):
        menu_size = min(menu_size, int(block["max_menu_size"]))
    overrides = block.get("overrides", {}).get(wildcards.setting, {}).get(wildcards.method, {})
    return {
        "method": wildcards.method,
        "setting": wildcards.setting,
        "n": setting.n,
        "m": setting.m,
        "menu_size": menu_size,
        "hyperparameters": {**block[wildcards.method], **overrides},
        "eval_every": int(block["eval_every"]),
        "select_best": bool(block["select_best"]),
        "base_seed": int(config["seed"]),
        "seed_index": int(wildcards.seed),
    }


def randomized_targets():
    """metrics.json of every (additive setting, randomized method, seed); params.pt and history come along."""
    return expand(
        "results/combinatorial/{setting}/{method}/seed{seed}/metrics.json",
        setting=randomized_settings(),
        method=randomized_methods(),
        seed=combinatorial_seeds(),
    )


def table2_settings(wildcards):
    """Active settings of Table 2(a) or 2(b), in the paper's column order."""
    return [s for s in PAPER_TABLES[wildcards.table] if s in COMBI_SETTINGS]


def active_tables():
    """table2a / table2b when at least one of their settings is active."""
    return [t for t, settings in PAPER_TABLES.items() if any(s in COMBI_SETTINGS for s in settings)]


def table2_inputs(wildcards):
    """Run metrics (every learned method) and baseline files of the table's active settings."""
    settings = set(table2_settings(wildcards))

    def in_table(path):
        return Path(path).parts[2] in settings

    return {
        "runs": [p for p in [*combinatorial_targets(), *randomized_targets()] if in_table(p)],
        "baselines": [
            p
            for p in combinatorial_baseline_targets()
            if in_table(p) and Path(p).name in ("vcg.json", "item_myerson.json")
        ],
    }


def figures_block(key):
    """One block of combinatorial.figures (schema defaults filled in)."""
    return config["combinatorial"].get("figures", {}).get(key, {})


def fig1_settings():
    """Fig. 1 panels: the configured settings that are active (their runs feed the figure)."""
    return [
        s
        for s in config["combinatorial"].get("figures", {}).get("fig1_settings", [])
        if s in COMBI_SETTINGS
    ]


def fig1_runs():
    """(setting, method, seed) of every history drawn in Fig. 1."""
    return [
        (s, m, k) for s in fig1_settings() for m in zfo_methods() for k in combinatorial_seeds()
    ]


def fig1_histories(wildcards):
    return [f"results/combinatorial/{s}/{m}/seed{k}/history.parquet" for s, m, k in fig1_runs()]


def fig1_keys(wildcards):
    return [[s, m] for s, m, _ in fig1_runs()]


def active_figure_setting(key):
    """Setting of the Fig. 2 / Fig. 3 block; it must be active (its datasets are built)."""
    setting = figures_block(key).get("setting", "2x2_A")
    if setting not in COMBI_SETTINGS:
        raise ValueError(
            f"combinatorial.figures.{key}.setting {setting!r} is not an active setting"
        )
    return setting


def case_study_data(wildcards):
    setting = active_figure_setting("case_study")
    return {
        "train": f"results/data/{setting}/train.parquet",
        "val": f"results/data/{setting}/val.parquet",
    }


def case_study_spec(wildcards):
    """Fig. 2: the tied ZFO-VVCA uses the zfo_vvca hyperparameters of the case-study setting (seed index 0)."""
    block = figures_block("case_study")
    setting = active_figure_setting("case_study")
    return {
        "setting": setting,
        "seed": 0,
        "base_seed": int(config["seed"]),
        "config": zfo_train_config(setting, "zfo_vvca"),
        "grid_points": int(block.get("grid_points", 41)),
        "extent": block.get("extent"),
        "n_profiles": int(block.get("n_profiles", 2000)),
    }


def smoothing_data(wildcards):
    return f"results/data/{active_figure_setting('smoothing')}/val.parquet"


def smoothing_spec(wildcards):
    """Fig. 3: which boost varies, over which range, and the smoothing widths."""
    block = figures_block("smoothing")
    return {
        "setting": active_figure_setting("smoothing"),
        "bidder": int(block.get("bidder", 0)),
        "bundle": int(block.get("bundle", 3)),
        "low": float(block.get("low", -1.0)),
        "high": float(block.get("high", 1.0)),
        "points": int(block.get("points", 801)),
        "sigmas": [float(x) for x in block.get("sigmas", [0.01, 0.1, 0.3])],
        "n_profiles": int(block.get("n_profiles", 30)),
    }


def zfo_figure_targets():
    """Figures 1-3 (PNG and PDF), each when its settings are active."""
    figures = []
    if fig1_settings() and zfo_methods():
        figures.append("fig1_training_curves")
    if figures_block("case_study").get("setting", "2x2_A") in COMBI_SETTINGS:
        figures.append("fig2_case_study")
    if figures_block("smoothing").get("setting", "2x2_A") in COMBI_SETTINGS:
        figures.append("fig3_smoothing")
    return expand("results/figures/{fig}.{ext}", fig=figures, ext=("png", "pdf"))


def report_targets():
    """Table 2 and Figures 1 to 3."""
    tables = expand("results/tables/{table}.{ext}", table=active_tables(), ext=("csv", "md", "tex"))
    return [*tables, *zfo_figure_targets()]


def get_final_outputs():
    """Everything `rule all` builds."""
    return [
        *dataset_targets(),
        *combinatorial_baseline_targets(),
        *single_item_targets(),
        *combinatorial_targets(),
        *randomized_targets(),
        *report_targets(),
    ]
