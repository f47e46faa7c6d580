# Helpers of the single-item study's rules (single_item.smk): its settings, inputs and the one place its
# result paths are built (si_path, si_run_path, si_sweep_path).


def si_path(family, name):
    """File ``name`` of a family in the single-item study: every result path of the study is built here (through
    the two below for runs and sweeps)."""
    return f"results/single_item/{family}/{name}"


def si_run_path(family, method, seed, name):
    """File ``name`` of one learned run (model.pt, history.parquet, metrics.json, test_metrics.json; start.pt of
    RegretNet): the report's net (``learned``) under final/, the others under their own name."""
    run = "final" if method == "learned" else method
    return si_path(family, f"{run}/seed{seed}/{name}")


def si_sweep_path(family, method, name):
    """File ``name`` of a family's sweep (best_params.json, trials.csv, trials.json): the report's net
    (``learned``) or RegretNet's."""
    sweep = "sweep" if method == "learned" else f"{method}/sweep"
    return si_path(family, f"{sweep}/{name}")


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
    inputs = {split: dataset_path(wildcards.family, split) for split in ("train", "test")}
    if wildcards.baseline == "vvca_zfo":
        inputs["fitted"] = si_path(wildcards.family, "vvca_zfo/params.pt")
    return inputs


def si_methods():
    """Learned single-item mechanisms of Table 1 (``learned`` = the report's net and method)."""
    return list(SI["methods"])


def si_method_seeds(method):
    return si_seeds() if method == "learned" else [int(s) for s in SI[method]["seeds"]]


def si_learned_evals(family):
    """Test records of every learned mechanism and seed of a family."""
    return [
        si_run_path(family, m, k, "test_metrics.json")
        for m in si_methods()
        for k in si_method_seeds(m)
    ]


def learned_train_inputs(wildcards):
    inputs = {split: dataset_path(wildcards.family, split) for split in ("train", "val")}
    if wildcards.method == "regretnet":
        inputs["best"] = si_sweep_path(wildcards.family, "regretnet", "best_params.json")
        inputs["start"] = si_run_path(wildcards.family, "regretnet", wildcards.seed, "start.pt")
    return inputs


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
    inputs = {split: dataset_path(family, split) for split in ("train", "val")}
    inputs["warm"] = si_path(family, "warmstart.pt")
    if SI["regretnet"]["start"]["teacher"] == "myersonnet":
        teacher_seed = regretnet_teacher_seed(wildcards.seed)
        inputs["teacher"] = si_run_path(family, "myersonnet", teacher_seed, "model.pt")
    return inputs


def learned_training(wildcards):
    return dict(SI[wildcards.method]["training"])


def si_baseline_files(family):
    return [baseline_record(family, b) for b in si_baselines(family)]
