"""single_item subpackage."""
