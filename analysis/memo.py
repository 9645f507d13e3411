"""Process-local memoization of pure model functions by the content of their arguments.

Several model functions are called again and again with the same inputs inside one evaluation
and across the points of a sweep: the utilization chain at the fixed point of the rebuild
iteration (:func:`analysis.economics.rebuild_utilization`), the successor's TCO for every option
and draw set, a serving replica's size search for every price. :func:`memoized` computes each
distinct call once per process, keyed by a SHA-1 **fingerprint of the arguments' content**
(numpy arrays by dtype, shape and bytes; dicts, sequences and dataclasses field by field), not
by identity, so an equal input built afresh still hits.

Rules that keep a shared result safe:

* an argument the fingerprint cannot read completely (any other object) skips the cache: the
  call is computed, never served a result computed from something else;
* the cached value's numpy arrays are made read-only, so a caller that changes one in place
  fails loudly instead of changing what the next caller reads;
* each caller gets its own shallow copy of the containers (dicts, lists, tuples, dataclass
  instances, DataFrames), so adding a key or setting an attribute stays local.

The cache is bounded (least recently used out) and per process: a report kernel forked from a
warm zygote (:mod:`analysis.kernels`) starts with the zygote's entries. ``memoized(batch=True)``
also keeps a value for the whole report batch (:func:`analysis.results.memo`), for work kernels
of different scenarios repeat; :func:`disabled` turns every cache off inside a block (the
benchmarks time the model, not the cache).
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import hashlib
import inspect
import weakref
from collections import OrderedDict

import numpy as np
import pandas as pd

_LEAVES = (np.ndarray, str, int, float, bool, type(None), np.generic)
_SCALARS = (str, bytes, int, float, complex, bool, type(None), np.generic)


class Unfingerprintable(TypeError):
    """An argument whose content the fingerprint cannot read completely."""


def _feed(h, obj) -> None:
    t = type(obj)
    if t is float or t is int or t is bool:       # the common leaves first (section values)
        h.update(b"%s:%s;" % (t.__name__.encode(), repr(obj).encode()))
    elif t is str:
        data = obj.encode()
        h.update(b"str%d:" % len(data))
        h.update(data)
    elif t is dict:
        _feed_dict(h, obj)
    else:
        _feed_other(h, obj)


def _feed_dict(h, obj) -> None:
    h.update(b"D%d" % len(obj))
    try:
        keys = sorted(obj)
    except TypeError:                              # keys of mixed types
        keys = sorted(obj, key=repr)
    for key in keys:
        _feed(h, key)
        _feed(h, obj[key])


def _feed_other(h, obj) -> None:
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise Unfingerprintable("object array")
        h.update(b"A%s%s" % (obj.dtype.str.encode(), repr(obj.shape).encode()))
        h.update(np.ascontiguousarray(obj).view(np.uint8).data if obj.size else b"")
    elif isinstance(obj, _SCALARS):
        h.update(b"S%s:%s;" % (type(obj).__name__.encode(), repr(obj).encode()))
    elif isinstance(obj, dict):                     # a subclass (Draws, OrderedDict)
        _feed_dict(h, obj)
    elif isinstance(obj, (list, tuple, frozenset, set)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        h.update(b"L%s%d" % (type(obj).__name__.encode(), len(items)))
        for item in items:
            _feed(h, item)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if obj.__dataclass_params__.frozen:
            h.update(_frozen_digest(obj))
        else:
            _feed_fields(h, obj)
    else:
        raise Unfingerprintable(type(obj).__name__)


def _feed_fields(h, obj) -> None:
    h.update(b"C%s" % type(obj).__qualname__.encode())
    for f in dataclasses.fields(obj):
        _feed(h, getattr(obj, f.name))


_FROZEN_DIGESTS: dict[int, bytes] = {}


def _immutable(obj) -> bool:
    """Whether nothing reachable from ``obj`` can change: scalars, tuples and frozensets of them,
    frozen dataclasses of them (a frozen dataclass holding a dict or an array can still change)."""
    if isinstance(obj, _SCALARS):
        return True
    if isinstance(obj, (tuple, frozenset)):
        return all(_immutable(v) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type) and obj.__dataclass_params__.frozen:
        return all(_immutable(getattr(obj, f.name)) for f in dataclasses.fields(obj))
    return False


def _frozen_digest(obj) -> bytes:
    """Digest of a frozen dataclass (a cluster, a GPU), read once per object when nothing in it can
    change (:func:`_immutable`); the entry leaves with the object."""
    digest = _FROZEN_DIGESTS.get(id(obj))
    if digest is None:
        inner = hashlib.sha1()
        _feed_fields(inner, obj)
        digest = inner.digest()
        if not _immutable(obj):     # e.g. a dict field: read it again next time
            return digest
        try:
            weakref.finalize(obj, _FROZEN_DIGESTS.pop, id(obj), None)
        except TypeError:           # no weak references (slots): read it every time
            return digest
        _FROZEN_DIGESTS[id(obj)] = digest
    return digest


def fingerprint(*args, **kwargs) -> bytes:
    """SHA-1 digest of the content of ``args`` and ``kwargs``; :class:`Unfingerprintable` when an
    argument is not built from arrays, scalars, containers and dataclasses."""
    h = hashlib.sha1()
    _feed(h, args)
    _feed(h, kwargs)
    return h.digest()


def _freeze(value):
    """Make every numpy array reachable through containers and dataclasses read-only."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, dict):
        for v in value.values():
            _freeze(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _freeze(v)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _freeze(getattr(value, f.name))
    return value


def _share(value):
    """A caller's own copy of the containers around the (read-only, shared) arrays."""
    if isinstance(value, _LEAVES):
        return value
    if isinstance(value, dict):
        return {k: _share(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_share(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_share(v) for v in value)
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.copy(deep=False)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = copy.copy(value)
        for f in dataclasses.fields(value):
            object.__setattr__(out, f.name, _share(getattr(value, f.name)))
        return out
    return value


_ENABLED = [True]


@contextlib.contextmanager
def disabled():
    """Every memoized function computes afresh inside the block (``python -m analysis bench``
    times the model, not the cache, when it calls a function again with the same arguments)."""
    _ENABLED.append(False)
    try:
        yield
    finally:
        _ENABLED.pop()


def memoized(maxsize: int = 32, batch: bool = False):
    """Decorator: cache a pure function's results per process by :func:`fingerprint` of its
    arguments as bound to its signature, defaults included (at most ``maxsize`` entries, least
    recently used out). The wrapper has ``cache_info()`` (hits, misses, entries) and ``cache_clear()``.

    ``batch=True``: also once per report batch, for work that report kernels of *different*
    scenarios repeat on the same inputs (the goodput simulation of a shared ``goodput`` section):
    the value is kept by :func:`analysis.results.memo` (the runner's cache directory, keyed by the
    fingerprint, the code and the data; one process computes an entry while another waits for it)."""
    def decorate(func):
        cache: OrderedDict[bytes, object] = OrderedDict()
        stats = {"hits": 0, "misses": 0}
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if not _ENABLED[-1]:
                return func(*args, **kwargs)
            try:
                # the bound arguments with defaults filled in: f(x) and f(x, option=None) are one call
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                key = fingerprint(**bound.arguments)
            except (Unfingerprintable, TypeError):   # TypeError: a wrong call, raised by the function itself
                return func(*args, **kwargs)
            if key in cache:
                cache.move_to_end(key)
                stats["hits"] += 1
                return _share(cache[key])
            stats["misses"] += 1
            if batch:
                from analysis import results
                value = _freeze(results.memo(f"{func.__module__}.{func.__qualname__}", lambda: func(*args, **kwargs), key.hex()))
            else:
                value = _freeze(func(*args, **kwargs))
            cache[key] = value
            while len(cache) > maxsize:
                cache.popitem(last=False)
            return _share(value)

        wrapper.cache_info = lambda: {**stats, "entries": len(cache)}
        wrapper.cache_clear = lambda: (cache.clear(), stats.update(hits=0, misses=0))
        return wrapper

    return decorate
