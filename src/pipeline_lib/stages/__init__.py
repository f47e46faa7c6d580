"""stages subpackage."""
