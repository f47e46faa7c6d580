"""vvca subpackage."""
