"""Strict reading of config files: what Snakemake's loader lets through silently.

Snakemake reads ``--configfile`` overlays with a plain YAML loader, so a key written twice keeps its last value
without a word, and a syntax error or an empty file is reported without the file's name. :func:`check_config_files`
re-reads every config file of a run with a loader that refuses duplicate keys and names the file and lines; the
Snakefile calls it first thing. It can also be run by hand (``python -m pipeline_lib.core.configfiles FILE...``),
which is the way to find the file of a syntax error in an overlay: Snakemake 9 parses overlays before any workflow
code runs and stops there with a message naming no file. The make targets that run the workflow (``make run
CONFIG=my.yaml``, ``run-cpu``, ``run-paper``, ``dry-run``, ``report``) call it on every config file first (see
``docs/operations.md#config-errors``).
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
        with path.open(encoding="utf-8") as stream:  # a file object: PyYAML's marks then name the file
            data = yaml.load(stream, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader
    except ConfigFileError as exc:
        raise ConfigFileError(f"config file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"config file {path} is not valid YAML{_where(exc)}: {exc}") from None
    except OSError as exc:
        raise ConfigFileError(f"config file {path} cannot be read: {exc}") from None
    if data is None:
        raise ConfigFileError(f"config file {path} is empty; a config (overlay) must hold a mapping of keys")
    if not isinstance(data, dict):
        raise ConfigFileError(f"config file {path} must hold a mapping of keys at top level, not {type(data).__name__}")
    return data


def _where(exc: yaml.YAMLError) -> str:
    """`` at line L, column C`` of a YAML error (1-based, as an editor counts), or "" where PyYAML gives no mark."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"


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
    """``python -m pipeline_lib.core.configfiles FILE...``: check config files (every make target that runs the
    workflow calls it on the tier's files and the user's ``CONFIG=`` overlays before Snakemake starts); exit status
    1 with one line per bad file, each naming the file (and the line where there is one), 2 without a file."""
    files = sys.argv[1:] if argv is None else argv
    if not files:
        print("usage: python -m pipeline_lib.core.configfiles FILE...", file=sys.stderr)
        return 2
    errors = []
    for path in files:
        try:
            load_strict(path)
        except ConfigFileError as exc:
            errors.append(str(exc))
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        return 1
    print(f"ok: {len(files)} config file(s): {' '.join(map(str, files))}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
