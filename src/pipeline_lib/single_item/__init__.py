"""Single-item mechanisms beyond the report (shared/spec/beyond.md sections 3-5): per-bidder and mixture priors
with the asymmetric Myerson auction, MyersonNet (exactly DSIC) and RegretNet training (augmented Lagrangian)."""
