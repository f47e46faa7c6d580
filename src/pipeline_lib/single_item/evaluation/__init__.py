"""Evaluation of single-item mechanisms: THE evaluator (regret, IR, welfare), the paired check against a known
optimum (the only place one is read) and the payload of a family's evaluation."""
