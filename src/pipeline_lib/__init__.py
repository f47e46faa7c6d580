"""pipeline_lib: all logic of the auction-learning pipeline.

Rooms (imports flow one way, top to bottom):

* ``core``: settings, config_checks (what the schema cannot say), configfiles (strict YAML), seeds (every
  SeedSequence), data (Parquet), io (atomic writes), provenance, device, checkpoint, optuna_storage, runtime (stage
  logging and threads), methods (THE registry), records (THE metrics record);
* ``valuations``: samplers of the single-item families and the combinatorial settings;
* ``vvca``: the VVCA engine (mechanism, exact DP backends, bids), the ZFO/FO/BBB optimizers (config,
  parametrisation, estimators, loop) and THE evaluator of deterministic combinatorial mechanisms, the case studies;
* ``single_item``: distributions and per-bidder priors, auctions (Vickrey, Myerson, reserves, asymmetric Myerson),
  baselines, the report's net, training, sweeps, the regret evaluator, the one-item VVCA, RegretNet, MyersonNet;
* ``combinatorial``: Item-Myerson, grand-bundle Myerson, the DSIC starts of ZFO-VVCA+, and the randomized affine
  maximizers (Lottery AMA, AMenuNet) with their training;
* ``report``: tables and figures from records (values in, text and figures out);
* ``stages``: one function per Snakemake rule, the only code that reads or writes result files.

Stage scripts in ``scripts/`` are thin adapters over ``stages``. Nothing in this package imports snakemake or reads
the global config: functions take plain arguments.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pipeline_lib")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
