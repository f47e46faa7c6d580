"""Learning single-item mechanisms from samples: the report's two-phase net, RegretNet, MyersonNet, RegretNet's
distilled start and the sweeps. Never reads a known optimum: no module here imports
:mod:`pipeline_lib.single_item.mechanisms.myerson` or :mod:`pipeline_lib.single_item.evaluation.optimum_check`
(tests/single_item/learning/test_no_optimum_imports.py)."""
