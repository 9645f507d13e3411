"""Reading user-editable input files safely: the one place every YAML and CSV reader goes through.

* :func:`read_text` -- a regular file, at most :data:`MAX_INPUT_BYTES`, strict UTF-8 (a BOM is
  allowed); anything else is one :class:`~analysis.errors.InputError` line naming the file.
* :func:`read_yaml` -- :func:`read_text` + :class:`StrictLoader`: PyYAML's safe loader that
  rejects aliases/anchors (so a "billion laughs" file cannot expand), rejects duplicate keys
  (YAML 1.2 requires unique keys; PyYAML silently keeps the last one) and reads exponent
  floats without a dot or sign (``16e6``, ``2.048e28``) as numbers, as YAML 1.2 does.
* :func:`read_csv` -- :func:`read_text` + a field count check of every line against the
  header (pandas would otherwise read an extra field as an index or fail with a traceback),
  then :func:`pandas.read_csv`.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import yaml
from yaml.constructor import ConstructorError
from yaml.error import MarkedYAMLError

from analysis.errors import InputError, clip, shown
from analysis.paths import PROJ_ROOT

#: Largest input file read (bytes). The biggest shipped file is ~25 kB.
MAX_INPUT_BYTES = 2_000_000
#: Deepest YAML nesting accepted (the shipped files nest 3 deep).
MAX_YAML_DEPTH = 40


def file_stamp(path: Path | str) -> tuple:
    """``(path, modification time in ns, size)``: the key under which a loader may keep what it read
    from a file for the process (``functools.lru_cache``), read again as soon as the file changes."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return (str(path), None, None)
    return (str(path), stat.st_mtime_ns, stat.st_size)


def where(path: Path | str) -> str:
    """``path`` relative to the project when inside it (as error messages show it)."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(PROJ_ROOT))
    except (ValueError, OSError):
        return str(path)


def read_text(path: Path | str, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The text of a regular UTF-8 file of at most ``max_bytes`` bytes."""
    path = Path(path)
    name = where(path)
    try:
        if not path.exists():
            raise InputError(f"{name}: file not found")
        if path.is_dir():
            raise InputError(f"{name}: is a directory; expected a file")
        if not path.is_file():
            raise InputError(f"{name}: not a regular file")
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"{name}: {size:,} bytes is above the input size limit of {max_bytes:,} bytes")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:  # grew while reading (a pipe or a file being written)
        raise InputError(f"{name}: above the input size limit of {max_bytes:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputError(f"{name} line {line}: byte 0x{data[exc.start]:02x} at offset {exc.start} is not UTF-8; "
                         "save the file as UTF-8 text") from None


# --------------------------------------------------------------------------- YAML
class _DuplicateKey(MarkedYAMLError):
    pass


class _Rejected(MarkedYAMLError):  # an alias, an anchor or too deep a nesting
    pass


class _StrictConstruction:
    """Mapping construction that rejects duplicate keys (both lines in the message)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
            seen = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    raise ConstructorError("while constructing a mapping", node.start_mark,
                                           f"unhashable key {shown(key)}", key_node.start_mark) from None
                if first is not None:
                    raise _DuplicateKey(None, None, f"duplicate key {shown(key)} (first at line {first.line + 1}); "
                                                    "every key may appear once", key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _reject_alias_anchor_or_depth(event, depth: int):
    """The one check of every node, shared by both loaders."""
    if isinstance(event, yaml.AliasEvent):
        raise _Rejected(None, None, f"alias *{clip(event.anchor, 40)} is not allowed; "
                                         "write the value out instead of using anchors (&) and aliases (*)",
                        event.start_mark)
    if getattr(event, "anchor", None) is not None:
        raise _Rejected(None, None, f"anchor &{clip(event.anchor, 40)} is not allowed; "
                                         "write the value out instead of using anchors (&) and aliases (*)",
                        event.start_mark)
    if depth >= MAX_YAML_DEPTH:
        raise _Rejected(None, None, f"nested more than {MAX_YAML_DEPTH} levels deep", event.start_mark)


class StrictLoader(_StrictConstruction, yaml.SafeLoader):
    """Safe loader without aliases and duplicate keys, with YAML 1.2 exponent floats."""

    def compose_node(self, parent, index):
        depth = getattr(self, "_depth", 0)
        _reject_alias_anchor_or_depth(self.peek_event(), depth)
        self._depth = depth + 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth


# libyaml's parser (when PyYAML has it) reads the files ten times faster than the pure-Python one;
# it composes in C, so aliases, anchors and depth are checked on its event stream first.
_CSafeLoader = getattr(yaml, "CSafeLoader", None)
_FastLoader = type("_FastLoader", (_StrictConstruction, _CSafeLoader), {}) if _CSafeLoader is not None else None


def _check_events(text: str) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=_CSafeLoader):
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
            continue
        if isinstance(event, yaml.NodeEvent):          # scalars, aliases and collection starts
            _reject_alias_anchor_or_depth(event, depth)
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1


# YAML 1.2 core schema floats that YAML 1.1 (PyYAML) reads as strings: an exponent without a
# dot (16e6) or without a sign (2.048e28).
for _loader in (StrictLoader, _FastLoader):
    if _loader is not None:
        _loader.add_implicit_resolver(
            "tag:yaml.org,2002:float",
            re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
            list("-+0123456789."))


def load_yaml_text(text: str, name: str = "<text>"):
    """Parse YAML ``text`` with :class:`StrictLoader`; errors are one line naming ``name``."""
    try:
        if _FastLoader is None:
            return yaml.load(text, Loader=StrictLoader)  # noqa: S506 -- StrictLoader is a SafeLoader
        _check_events(text)
        return yaml.load(text, Loader=_FastLoader)  # noqa: S506 -- a CSafeLoader with the same checks
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, (_DuplicateKey, _Rejected)):
            raise InputError(f"{name}{at}: {problem}") from None
        raise InputError(f"{name}{at}: not valid YAML ({clip(problem, 120)})") from None
    except RecursionError:
        raise InputError(f"{name}: nested too deeply to be read") from None
    except (ValueError, OverflowError, TypeError) as exc:  # e.g. a timestamp that is no date, a 5000-digit integer
        raise InputError(f"{name}: not valid YAML ({clip(exc, 120)})") from None


def read_yaml(path: Path | str, max_bytes: int = MAX_INPUT_BYTES, mapping: bool = True):
    """A YAML file read safely (see the module docstring); a mapping at the top unless ``mapping=False``."""
    path = Path(path)
    doc = load_yaml_text(read_text(path, max_bytes), where(path))
    if mapping and not isinstance(doc, dict):
        raise InputError(f"{where(path)}: expected a mapping (key: value lines) at the top level, got "
                         f"{'an empty file' if doc is None else type(doc).__name__}")
    return doc


# --------------------------------------------------------------------------- CSV
def check_csv_text(text: str, name: str) -> list[str]:
    """The header of CSV ``text`` after checking that every line has as many fields as the header
    and that no column name repeats; errors name ``name`` and the line."""
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise InputError(f"{name}: empty file; expected a header line with the column names")
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if len(row) != len(header):
                more = "more" if len(row) > len(header) else "fewer"
                raise InputError(f"{name} line {reader.line_num}: {len(row)} fields, {more} than the header's {len(header)}; "
                                 "quote text that contains commas")
    except csv.Error as exc:
        raise InputError(f"{name}: not valid CSV ({clip(exc, 120)})") from None
    duplicates = sorted({c for c in header if header.count(c) > 1})
    if duplicates:
        raise InputError(f"{name}: column {shown(duplicates[0])} appears twice in the header; column names must be unique")
    return header


def read_csv(path: Path | str, max_bytes: int = MAX_INPUT_BYTES, **kwargs) -> pd.DataFrame:
    """A CSV file read safely: every line must have as many fields as the header; ``kwargs`` go to
    :func:`pandas.read_csv` (a drop-in for ``pd.read_csv(path, ...)``)."""
    path = Path(path)
    name = where(path)
    text = read_text(path, max_bytes)
    check_csv_text(text, name)
    try:
        return pd.read_csv(io.StringIO(text), **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise InputError(f"{name}: not valid CSV ({clip(exc, 160)})") from None
