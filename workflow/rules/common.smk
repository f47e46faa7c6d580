# Config validation, global wildcard constraints and the target helpers (rules live in the study files).
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
from pipeline_lib.single_item.priors import baseline_names
from pipeline_lib.vvca.config import resolve_config as resolve_zfo_config

validate(config, schema="../schemas/config.schema.yaml")
# what the schema cannot say (names vs sizes, active figure settings, menu_size, ranges)
check_config(config)

SETTINGS = all_settings(config)
SINGLE_ITEM_FAMILIES = sorted(single_item_settings(config))
COMBI_SETTINGS = sorted(combinatorial_settings(config))
SI = config["single_item"]
COMBI = config["combinatorial"]
LEARNED_RUNNERS = ("zfo_run", "randomized_run")
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


def listed_methods(runner):
    """Methods of one rule (registry), in the order `combinatorial.methods` lists them."""
    return [m for m in COMBI["methods"] if methods.method(m).runner == runner]


def settings_for(method):
    """Active combinatorial settings the method applies to (registry: skip_distributions)."""
    return [s for s in COMBI_SETTINGS if methods.applies_to(method, SETTINGS[s].distribution)]


ZFO_METHODS = methods.keys(runner="zfo_run")
RANDOMIZED_METHODS = methods.keys(runner="randomized_run")
COMBI_BASELINES = methods.keys(runner="combinatorial_baseline")


wildcard_constraints:
    setting=alternation(sorted(SETTINGS)),
    family=alternation(SINGLE_ITEM_FAMILIES),
    split=alternation(SPLITS),
    seed=r"\d+",
    table="table2a|table2b",


# --- data ----------------------------------------------------------------------------------------------------
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
        names = [name] if name in SETTINGS else [s for s in sorted(SETTINGS) if SETTINGS[s].kind == kind]
        return {
            "base_seed": int(config["seed"]),
            "rows": {split: int(config["data"][kind][split]) for split in SPLITS},
            "row_group_size": int(config["data"]["row_group_size"]),
            "settings": {s: dataset_identity(SETTINGS[s]) for s in names},
        }

    return params


def dataset_targets():
    return expand("results/data/{setting}/{split}.parquet", setting=sorted(SETTINGS), split=SPLITS)


# --- single-item study -----------------------------------------------------------------------------------------
def si_family(wildcards):
    """The family's distribution parameters (plain dict)."""
    return dict(SI["families"][wildcards.family])


def si_seeds():
    return [int(s) for s in SI["final"]["seeds"]]


def si_baselines(family):
    """Single-item baselines that apply to ``family`` (Myerson only for i.i.d. families with a known prior)."""
    return baseline_names(SI["families"][family], SETTINGS[family].n, SI["baselines"])


def si_baseline_inputs(wildcards):
    """Train/test splits of a family, plus the trained one-item VVCA for the ``vvca_zfo`` baseline."""
    inputs = {
        "train": f"results/data/{wildcards.family}/train.parquet",
        "test": f"results/data/{wildcards.family}/test.parquet",
    }
    if wildcards.baseline == "vvca_zfo":
        inputs["fitted"] = f"results/single_item/{wildcards.family}/vvca_zfo/params.pt"
    return inputs


def si_methods():
    """Learned single-item mechanisms of Table 1 (``learned`` = the report's net and method)."""
    return list(SI["methods"])


def si_method_seeds(method):
    return si_seeds() if method == "learned" else [int(s) for s in SI[method]["seeds"]]


def si_model(family, method, seed):
    if method == "learned":
        return f"results/single_item/{family}/final/seed{seed}/model.pt"
    return f"results/single_item/{family}/{method}/seed{seed}/model.pt"


def si_learned_evals(family):
    """Test records of every learned mechanism and seed of a family."""
    return [
        (
            f"results/single_item/{family}/final/seed{k}/test_metrics.json"
            if m == "learned"
            else f"results/single_item/{family}/{m}/seed{k}/test_metrics.json"
        )
        for m in si_methods()
        for k in si_method_seeds(m)
    ]


def learned_train_inputs(wildcards):
    inputs = {
        "train": f"results/data/{wildcards.family}/train.parquet",
        "val": f"results/data/{wildcards.family}/val.parquet",
    }
    if wildcards.method == "regretnet":
        inputs["best"] = f"results/single_item/{wildcards.family}/regretnet/sweep/best_params.json"
        inputs["start"] = regretnet_start_path(wildcards.family, wildcards.seed)
    return inputs


def regretnet_start_path(family, seed):
    """RegretNet's starting network of one family and seed (rule regretnet_start)."""
    return f"results/single_item/{family}/regretnet/seed{seed}/start.pt"


def regretnet_teacher_seed(seed):
    """The MyersonNet seed RegretNet seed ``seed`` distils: the seed at the same position in the MyersonNet seeds
    (cycling when there are fewer), so every RegretNet seed has its own learned teacher where there are enough.
    """
    seeds = si_method_seeds("myersonnet")
    return seeds[si_method_seeds("regretnet").index(int(seed)) % len(seeds)]


def regretnet_start_inputs(wildcards):
    """Training and validation values, the phase-1 network (read under warm_start), and the MyersonNet of the
    paired seed when it is the distillation teacher (learned from samples; never a known optimum).
    """
    family = wildcards.family
    inputs = {
        "train": f"results/data/{family}/train.parquet",
        "val": f"results/data/{family}/val.parquet",
        "warm": f"results/single_item/{family}/warmstart.pt",
    }
    if SI["regretnet"]["start"]["teacher"] == "myersonnet":
        inputs["teacher"] = si_model(family, "myersonnet", regretnet_teacher_seed(wildcards.seed))
    return inputs


def learned_training(wildcards):
    return dict(SI[wildcards.method]["training"])


def si_baseline_files(family):
    return expand(
        "results/baselines/{family}/{baseline}.json", family=family, baseline=si_baselines(family)
    )


def table1_inputs(wildcards):
    return [p for f in SINGLE_ITEM_FAMILIES for p in [*si_learned_evals(f), *si_baseline_files(f)]]


def table1_families(wildcards):
    """Table 1 layout: per family its distribution parameters and n (values; the records come through input); the
    report's figures are shown beside a family only when these are the report's setting."""
    return {
        f: {**SI["families"][f], "n_bidders": SETTINGS[f].n}
        for f in SINGLE_ITEM_FAMILIES
    }


def si_figure_files():
    """(path, [family, role, method]) of every input of the single-item figures: the sweep trials of each learned
    method with a sweep, the first seed's model of each learned method, RegretNet's first-seed training history,
    the test set."""
    files = []
    for f in SINGLE_ITEM_FAMILIES:
        if "learned" in si_methods():
            files.append((f"results/single_item/{f}/sweep/trials.json", [f, "trials", "learned"]))
        if "regretnet" in si_methods():
            files.append(
                (f"results/single_item/{f}/regretnet/sweep/trials.json", [f, "trials", "regretnet"])
            )
        for m in si_methods():
            files.append((si_model(f, m, si_method_seeds(m)[0]), [f, "model", m]))
        if "regretnet" in si_methods():  # the validation path of the first seed's Lagrangian
            model = si_model(f, "regretnet", si_method_seeds("regretnet")[0])
            files.append(
                (model.replace("model.pt", "history.parquet"), [f, "history", "regretnet"])
            )
        files.append((f"results/data/{f}/test.parquet", [f, "test", ""]))
    return files


def si_figure_inputs(wildcards):
    return [path for path, _ in si_figure_files()]


def si_figure_roles(wildcards):
    return [role for _, role in si_figure_files()]


def si_figure_families(wildcards):
    return {f: dict(SI["families"][f]) for f in SINGLE_ITEM_FAMILIES}


def single_item_targets():
    """Table 1 and the single-item figures (everything else of the study is upstream of them)."""
    if not SINGLE_ITEM_FAMILIES:
        return []
    return [
        *expand("results/tables/table1.{ext}", ext=("csv", "md", "tex")),
        *expand(
            "results/figures/single_item_{fig}.{ext}",
            fig=("sweeps", "response"),
            ext=("png", "pdf"),
        ),
    ]


# --- combinatorial study ---------------------------------------------------------------------------------------
def combinatorial_seeds():
    return list(range(int(COMBI["seeds"])))


def zfo_train_config(setting, method):
    """TrainConfig (as a dict) of one run: Table 3 < combinatorial.training < method_overrides, then tier caps."""
    training = COMBI["training"]
    cfg = resolve_zfo_config(
        method,
        COMBI["settings"][setting]["zfo"],
        training,
        COMBI["method_overrides"].get(method),
        training.get("max_iterations"),
        training.get("max_batch_size"),
    )
    return asdict(cfg)


def zfo_run_params(wildcards):
    """One ZFO/FO/BBB run; ZFO-VVCA+ alone gets ``restarts`` (so changing it reruns no other method)."""
    setting = SETTINGS[wildcards.setting]
    params = {
        "n": setting.n,
        "m": setting.m,
        "base_seed": int(config["seed"]),
        "config": zfo_train_config(wildcards.setting, wildcards.method),
        "distribution": setting.distribution,
    }
    if wildcards.method == "zfo_vvca_plus":
        params["restarts"] = int(COMBI["zfo_plus"]["restarts"])
    return params


def zfo_run_inputs(wildcards):
    """The three splits; ZFO-VVCA+ also reads the ZFO-VVCA run of its seed, which is its restart from VCG (same
    config but the method's name, same run seed), when that run is in the study: it is reused, not trained again.
    """
    data = f"results/data/{wildcards.setting}"
    inputs = {split: f"{data}/{split}.parquet" for split in ("train", "val", "test")}
    if wildcards.method == "zfo_vvca_plus" and "zfo_vvca" in COMBI["methods"]:
        plus = {**zfo_train_config(wildcards.setting, "zfo_vvca_plus"), "method": "zfo_vvca"}
        if plus == zfo_train_config(wildcards.setting, "zfo_vvca"):
            run = f"results/combinatorial/{wildcards.setting}/zfo_vvca/seed{wildcards.seed}"
            inputs.update(
                zfo_params=f"{run}/params.pt",
                zfo_history=f"{run}/history.parquet",
                zfo_metrics=f"{run}/metrics.json",
            )
    return inputs


def randomized_params(wildcards):
    """One randomized run: sizes, candidate size s, hyperparameters (with per-setting overrides), seeds."""
    block = COMBI["randomized"]
    setting = SETTINGS[wildcards.setting]
    menu_size = int(COMBI["settings"][wildcards.setting]["menu_size"])
    if block.get("max_menu_size"):
        menu_size = min(menu_size, int(block["max_menu_size"]))
    overrides = block["overrides"].get(wildcards.setting, {}).get(wildcards.method, {})
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
        "reduced_budget": bool(block["reduced_budget"]),
        "checkpoint_every": int(block["checkpoint_every"]),
    }


def run_targets(runner):
    """metrics.json of every (setting, method of ``runner``, seed); params and history come along."""
    return [
        f"results/combinatorial/{s}/{m}/seed{k}/metrics.json"
        for m in listed_methods(runner)
        for s in settings_for(m)
        for k in combinatorial_seeds()
    ]


def combinatorial_baseline_inputs(wildcards):
    """The test split; grand-bundle Myerson also fits its reserves on the training split."""
    inputs = {"test": f"results/data/{wildcards.setting}/test.parquet"}
    if wildcards.baseline == "bundle_myerson":
        inputs["train"] = f"results/data/{wildcards.setting}/train.parquet"
    return inputs


def combinatorial_baseline_targets():
    return [f"results/baselines/{s}/{b}.json" for b in COMBI_BASELINES for s in settings_for(b)]


# --- report ----------------------------------------------------------------------------------------------------
def table2_settings(wildcards):
    """Active settings of Table 2(a) or 2(b), in the paper's column order."""
    return [s for s in PAPER_TABLES[wildcards.table] if s in COMBI_SETTINGS]


def active_tables():
    return [t for t, settings in PAPER_TABLES.items() if any(s in COMBI_SETTINGS for s in settings)]


def table2_inputs(wildcards):
    """Run metrics (every learned method) and baseline records of the table's active settings."""
    settings = set(table2_settings(wildcards))
    paths = [
        *run_targets("randomized_run"),
        *combinatorial_baseline_targets(),
        *run_targets("zfo_run"),
    ]
    return [p for p in paths if p.split("/")[2] in settings]


def figures_block(key):
    return COMBI["figures"][key]


def fig1_settings():
    """Fig. 1 panels: the configured settings that are active (their runs feed the figure)."""
    return [s for s in COMBI["figures"]["fig1_settings"] if s in COMBI_SETTINGS]


def fig1_runs():
    return [
        (s, m, k)
        for s in fig1_settings()
        for m in listed_methods("zfo_run")
        for k in combinatorial_seeds()
    ]


def fig1_histories(wildcards):
    return [f"results/combinatorial/{s}/{m}/seed{k}/history.parquet" for s, m, k in fig1_runs()]


def fig1_keys(wildcards):
    return [[s, m] for s, m, _ in fig1_runs()]


def active_figure_setting(key):
    """Setting of the Fig. 2 / Fig. 3 block; it must be active (its datasets are built)."""
    setting = figures_block(key)["setting"]
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
        "grid_points": int(block["grid_points"]),
        "extent": block["extent"],
        "n_profiles": int(block["n_profiles"]),
    }


def smoothing_data(wildcards):
    return f"results/data/{active_figure_setting('smoothing')}/val.parquet"


def smoothing_spec(wildcards):
    """Fig. 3: which boost varies, over which range, and the smoothing widths."""
    block = figures_block("smoothing")
    return {
        "setting": active_figure_setting("smoothing"),
        **{k: v for k, v in block.items() if k != "setting"},
    }


def zfo_figure_targets():
    """Figures 1-3 (PNG and PDF), each when its settings are active."""
    figures = []
    if fig1_settings() and listed_methods("zfo_run"):
        figures.append("fig1_training_curves")
    if figures_block("case_study")["setting"] in COMBI_SETTINGS:
        figures.append("fig2_case_study")
    if figures_block("smoothing")["setting"] in COMBI_SETTINGS:
        figures.append("fig3_smoothing")
    return expand("results/figures/{fig}.{ext}", fig=figures, ext=("png", "pdf"))


def report_targets():
    tables = expand("results/tables/{table}.{ext}", table=active_tables(), ext=("csv", "md", "tex"))
    return [*tables, *zfo_figure_targets()]


def get_final_outputs():
    """Everything `rule all` builds."""
    return [
        *dataset_targets(),
        *combinatorial_baseline_targets(),
        *single_item_targets(),
        *run_targets("zfo_run"),
        *run_targets("randomized_run"),
        *report_targets(),
    ]
