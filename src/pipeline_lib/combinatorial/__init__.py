"""combinatorial subpackage."""
