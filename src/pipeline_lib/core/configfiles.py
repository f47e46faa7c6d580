"""Strict reading of config files: what Snakemake's loader lets through silently.

Snakemake reads ``--configfile`` overlays with a plain YAML loader, so a key written twice keeps its last value
without a word, and a syntax error or an empty file is reported without the file's name. :func:`check_config_files`
re-reads every config file of a run with a loader that refuses duplicate keys and names the file and lines; the
Snakefile calls it first thing. It can also be run by hand (``python -m pipeline_lib.core.configfiles FILE...``),
which is the way to find the file of a syntax error in an overlay: Snakemake 9 parses overlays before any workflow
code runs and stops there with a message naming no file.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml


class ConfigFileError(ValueError):
    """A config file that is not a YAML mapping, or repeats a key."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader refusing a key repeated in one mapping."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ConfigFileError(
                f"duplicate key {key!r} at line {line} (first at line {seen[key]}); YAML would silently keep the "
                "last value"
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_strict(path: str | os.PathLike) -> dict[str, Any]:
    """The mapping in config file ``path``; :class:`ConfigFileError` naming the file for a syntax error, an empty
    file, a top level that is not a mapping, or a duplicate key (with its lines)."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506 - a SafeLoader
    except ConfigFileError as exc:
        raise ConfigFileError(f"config file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"config file {path} is not valid YAML: {exc}") from None
    except OSError as exc:
        raise ConfigFileError(f"config file {path} cannot be read: {exc}") from None
    if data is None:
        raise ConfigFileError(f"config file {path} is empty; a config (overlay) must hold a mapping of keys")
    if not isinstance(data, dict):
        raise ConfigFileError(f"config file {path} must hold a mapping of keys at top level, not {type(data).__name__}")
    return data


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` merged over ``base`` as Snakemake merges a ``--configfile`` overlay: mappings key by key,
    anything else replaced; neither argument is changed."""
    out = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        both = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
        out[key] = deep_merge(out[key], value) if both else copy.deepcopy(value)
    return out


def check_config_files(paths: Iterable[str | os.PathLike]) -> None:
    """:func:`load_strict` every existing file of ``paths`` (missing ones are Snakemake's to report)."""
    for path in paths:
        if Path(path).exists():
            load_strict(path)


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline_lib.core.configfiles FILE...``: check config files; exit status 1 naming the first bad
    one."""
    files = sys.argv[1:] if argv is None else argv
    try:
        for path in files:
            load_strict(path)
    except ConfigFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"ok: {len(files)} config file(s)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
