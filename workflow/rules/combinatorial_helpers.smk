# Helpers of the combinatorial study's rules (combinatorial.smk): the registry's methods of each rule, their
# settings and hyperparameters, and the one place the runs' result paths are built (combi_run_path).

from snakemake.iocontainers import Wildcards

ZFO_METHODS = methods.keys(runner="zfo_run")
RANDOMIZED_METHODS = methods.keys(runner="randomized_run")
AMA_METHODS = methods.keys(runner="ama_run")
COMBI_BASELINES = methods.keys(runner="combinatorial_baseline")


def combi_run_path(setting, method, seed, name):
    """File ``name`` of one learned run (params.pt, history.parquet, metrics.json): every result path of the
    study's runs is built here (baseline records: baseline_record in common.smk)."""
    return f"results/combinatorial/{setting}/{method}/seed{seed}/{name}"


def listed_methods(runner):
    """Methods of one rule (registry), in the order `combinatorial.methods` lists them."""
    return [m for m in COMBI["methods"] if methods.method(m).runner == runner]


def skip_reason(method, setting):
    """Why ``method`` is not run on ``setting`` (registry: skip_distributions, enumerates_allocations), or None."""
    s = SETTINGS[setting]
    return methods.skip_reason(method, s.distribution, s.n, s.m, int(COMBI["ama"]["max_outcomes"]))


def settings_for(method):
    """Active combinatorial settings the method applies to (registry: skip_distributions, and the allocation
    bound combinatorial.ama.max_outcomes of methods that list every allocation)."""
    return [s for s in COMBI_SETTINGS if skip_reason(method, s) is None]


def combinatorial_seeds():
    return list(range(int(COMBI["seeds"])))


def _seed_wildcards(wildcards, seed):
    """The wildcards the per-seed rule would have for ``seed`` of an all-seeds job's (setting, method)."""
    return Wildcards(
        fromdict={"setting": wildcards.setting, "method": wildcards.method, "seed": str(seed)}
    )


def seeds_inputs(per_seed):
    """Input function of an all-seeds job (combinatorial.seeds_in_one_job): the per-seed rule's inputs for every
    seed, each name suffixed ``_<seed>`` (pipeline_lib.core.runtime.seed_runs splits them again)."""

    def inputs(wildcards):
        out = {}
        for seed in combinatorial_seeds():
            out.update(
                {f"{k}_{seed}": v for k, v in per_seed(_seed_wildcards(wildcards, seed)).items()}
            )
        return out

    return inputs


def seeds_outputs():
    """Outputs of an all-seeds job: every seed's params.pt, history.parquet and metrics.json."""
    files = {"params": "params.pt", "history": "history.parquet", "metrics": "metrics.json"}
    return {
        f"{k}_{seed}": combi_run_path("{setting}", "{method}", seed, name)
        for seed in combinatorial_seeds()
        for k, name in files.items()
    }


def seeds_params(**per_seed):
    """Params function of an all-seeds job: for every seed, the per-seed rule's params (``per_seed``: name ->
    function of the wildcards)."""

    def params(wildcards):
        return [
            {k: f(_seed_wildcards(wildcards, seed)) for k, f in per_seed.items()}
            for seed in combinatorial_seeds()
        ]

    return params


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
    inputs = {split: dataset_path(wildcards.setting, split) for split in SPLITS}
    if wildcards.method == "zfo_vvca_plus" and "zfo_vvca" in COMBI["methods"]:
        plus = {**zfo_train_config(wildcards.setting, "zfo_vvca_plus"), "method": "zfo_vvca"}
        if plus == zfo_train_config(wildcards.setting, "zfo_vvca"):
            run = (wildcards.setting, "zfo_vvca", wildcards.seed)
            inputs.update(
                zfo_params=combi_run_path(*run, "params.pt"),
                zfo_history=combi_run_path(*run, "history.parquet"),
                zfo_metrics=combi_run_path(*run, "metrics.json"),
            )
    return inputs


def split_inputs(wildcards):
    """The three splits of the setting (a randomized run reads nothing else)."""
    return {split: dataset_path(wildcards.setting, split) for split in SPLITS}


def randomized_params(wildcards):
    """One randomized run: sizes, candidate size s, hyperparameters (with per-setting overrides), seeds."""
    block = COMBI["randomized"]
    setting = SETTINGS[wildcards.setting]
    menu_size = int(COMBI["settings"][wildcards.setting]["menu_size"])
    if block.get("max_menu_size"):
        menu_size = min(menu_size, int(block["max_menu_size"]))
    overrides = block["overrides"].get(wildcards.setting, {}).get(wildcards.method, {})
    hyperparameters = {**block[wildcards.method], **overrides}
    restarts = hyperparameters.pop("restarts", None)  # absent: RandomizedSpec's default
    return {
        "method": wildcards.method,
        "setting": wildcards.setting,
        "n": setting.n,
        "m": setting.m,
        "menu_size": menu_size,
        "hyperparameters": hyperparameters,
        "eval_every": int(block["eval_every"]),
        "select_best": bool(block["select_best"]),
        "base_seed": int(config["seed"]),
        "seed_index": int(wildcards.seed),
        "reduced_budget": bool(block["reduced_budget"]),
        "checkpoint_every": int(block["checkpoint_every"]),
        **({} if restarts is None else {"restarts": int(restarts)}),
    }


def run_targets(runner):
    """metrics.json of every (setting, method of ``runner``, seed); params and history come along."""
    return [
        combi_run_path(s, m, k, "metrics.json")
        for m in listed_methods(runner)
        for s in settings_for(m)
        for k in combinatorial_seeds()
    ]


def combinatorial_baseline_inputs(wildcards):
    """The test split; grand-bundle Myerson also fits its reserves on the training split."""
    inputs = {"test": dataset_path(wildcards.setting, "test")}
    if wildcards.baseline == "bundle_myerson":
        inputs["train"] = dataset_path(wildcards.setting, "train")
    return inputs


def combinatorial_baseline_targets():
    return [baseline_record(s, b) for b in COMBI_BASELINES for s in settings_for(b)]


def ama_run_params(wildcards):
    """One AMA-over-every-allocation run: sizes, Algorithm 3 hyperparameters (Table 3 of the setting, as for the
    VVCA runs), restarts."""
    setting = SETTINGS[wildcards.setting]
    return {
        "n": setting.n,
        "m": setting.m,
        "base_seed": int(config["seed"]),
        "config": zfo_train_config(wildcards.setting, wildcards.method),
        "distribution": setting.distribution,
        "restarts": int(COMBI["ama"]["restarts"]),
        "search": COMBI["ama"].get("search", {}),
    }


def ama_run_inputs(wildcards):
    """The three splits and ZFO-VVCA+'s run of the seed (its lift is a start); ``zfo_ama`` also reads the
    bundle-symmetric run of the seed when that method is in the study (another start)."""
    setting, seed = wildcards.setting, wildcards.seed
    inputs = {split: dataset_path(setting, split) for split in ("train", "val", "test")}
    inputs["vvca_plus"] = combi_run_path(setting, "zfo_vvca_plus", seed, "params.pt")
    if wildcards.method == "zfo_ama" and "zfo_ama_sym" in COMBI["methods"]:
        inputs["symmetric"] = combi_run_path(setting, "zfo_ama_sym", seed, "params.pt")
    return inputs
