"""Single-item mechanisms: value priors, Vickrey and reserve auctions, Myerson's optimal auction (one module: the
auction, its ironing, its tie rules, its optimum), the learned networks' mechanisms and the one-item VVCA."""
