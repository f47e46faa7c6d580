"""valuations subpackage."""
