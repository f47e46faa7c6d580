"""mechanisms subpackage."""
