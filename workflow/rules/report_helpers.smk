# Helpers of the report's rules (report.smk): the records and layouts of every table and figure, and the one
# place their paths are built (table_path, figure_path).


TABLE_FORMATS = ("csv", "md", "tex")
FIGURE_FORMATS = ("png", "pdf")


def table_path(table, ext):
    """A table of the report: every table path is built here."""
    return f"results/tables/{table}.{ext}"


def figure_path(figure, ext):
    """A figure of the report: every figure path is built here."""
    return f"results/figures/{figure}.{ext}"


def table_files(table):
    return [table_path(table, ext) for ext in TABLE_FORMATS]


def figure_files(figure):
    return [figure_path(figure, ext) for ext in FIGURE_FORMATS]


# --- single-item study: Table 1 and its figures ------------------------------------------------------------------
def table1_inputs(wildcards):
    return [p for f in SINGLE_ITEM_FAMILIES for p in [*si_learned_evals(f), *si_baseline_files(f)]]


def table1_families(wildcards):
    """Table 1 layout: per family its distribution parameters and n (values; the records come through input); the
    report's figures are shown beside a family only when these are the report's setting."""
    return {f: {**SI["families"][f], "n_bidders": SETTINGS[f].n} for f in SINGLE_ITEM_FAMILIES}


def si_figure_files():
    """(path, [family, role, method]) of every input of the single-item figures: the sweep trials of each learned
    method with a sweep, the first seed's model of each learned method, RegretNet's first-seed training history,
    the test set."""
    files = []
    for f in SINGLE_ITEM_FAMILIES:
        for m in ("learned", "regretnet"):  # the methods with a sweep
            if m in si_methods():
                files.append((si_sweep_path(f, m, "trials.json"), [f, "trials", m]))
        for m in si_methods():
            files.append((si_run_path(f, m, si_method_seeds(m)[0], "model.pt"), [f, "model", m]))
        if "regretnet" in si_methods():  # the validation path of the first seed's Lagrangian
            seed = si_method_seeds("regretnet")[0]
            files.append(
                (si_run_path(f, "regretnet", seed, "history.parquet"), [f, "history", "regretnet"])
            )
        files.append((dataset_path(f, "test"), [f, "test", ""]))
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
        *table_files("table1"),
        *figure_files("single_item_sweeps"),
        *figure_files("single_item_response"),
    ]


# --- combinatorial study: Table 2 and Figures 1-3 ---------------------------------------------------------------
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
        *run_targets("ama_run"),
    ]
    return [p for p in paths if p.split("/")[2] in settings]


def table2_table3(wildcards):
    """{setting: {iterations, batch_size}} of the paper's Table 3 for the table's settings (config.yaml's
    ``zfo`` block of each setting, before a tier's caps and overrides): runs below it are marked reduced.
    """
    return {
        s: {k: COMBI["settings"][s]["zfo"][k] for k in ("iterations", "batch_size")}
        for s in table2_settings(wildcards)
    }


def table2_skipped(wildcards):
    """{method: {setting: reason}} of the listed methods that list every allocation and are skipped on a setting of
    the table for its size (the table shows the reason; distribution skips stay '-' as in the paper).
    """
    skipped = {}
    for m in listed_methods("ama_run"):
        for s in table2_settings(wildcards):
            if methods.applies_to(m, SETTINGS[s].distribution) and skip_reason(m, s):
                skipped.setdefault(m, {})[s] = skip_reason(m, s)
    return skipped


def figures_block(key):
    return COMBI["figures"][key]


def fig1_settings():
    """Fig. 1 panels: the configured settings that are active (their runs feed the figure)."""
    return [s for s in COMBI["figures"]["fig1_settings"] if s in COMBI_SETTINGS]


def fig1_runs():
    return [
        (s, m, k)
        for s in fig1_settings()
        for m in [*listed_methods("zfo_run"), *listed_methods("ama_run")]
        if s in settings_for(m)
        for k in combinatorial_seeds()
    ]


def fig1_histories(wildcards):
    return [combi_run_path(s, m, k, "history.parquet") for s, m, k in fig1_runs()]


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
    return {split: dataset_path(setting, split) for split in ("train", "val")}


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
    return dataset_path(active_figure_setting("smoothing"), "val")


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
    return [path for fig in figures for path in figure_files(fig)]


def report_targets():
    tables = [path for table in active_tables() for path in table_files(table)]
    return [*tables, *zfo_figure_targets()]
