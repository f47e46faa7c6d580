"""The single-item study, split by job: ``mechanisms`` (priors, auctions, Myerson, networks), ``learning`` (what is
learned from samples) and ``evaluation`` (the one evaluator and the optimum check)."""
