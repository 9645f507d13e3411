"""Load and validate the sourced tables in ``data/``.

* ``data/gpus.csv`` -> :class:`GpuSpec` (peaks are **dense**; FP16 = BF16 on every listed GPU)
* ``data/clusters/*.yaml`` -> :class:`Cluster` made of :class:`Pool` s of one GPU type each
* ``data/models.yaml`` -> transformer architectures by id (plain dicts, the ``mfu`` run schema)

Every loader fails with one :class:`~analysis.errors.InputError` line naming the file, the
row (or key path), the column, the value and what is allowed.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import io
from analysis.errors import InputError, shown
from analysis.params import Param, Spec, parse_param
from analysis.paths import CLUSTER_DIR, DATA_DIR

#: Ids that become file names or output folders (scenario names, cluster ids): letters, digits, - and _.
SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
SAFE_ID_ALLOWED = "1 to 64 letters, digits, '-' or '_'"


def check_id(field: str, value) -> str:
    """``value`` if it is a safe identifier (:data:`SAFE_ID`), else a one-line :class:`InputError`."""
    if not isinstance(value, str):
        raise InputError(f"{field}: {shown(value)} is not text; expected {SAFE_ID_ALLOWED}")
    if not SAFE_ID.fullmatch(value):
        raise InputError(f"{field}: {shown(value)} is not allowed; use {SAFE_ID_ALLOWED}")
    return value

PRECISIONS = ("bf16", "fp16", "fp8", "fp4")

# Vendor dense peaks (TFLOPS) used only as a sanity ceiling when loading gpus.csv: a value
# above it is almost surely the 2:4-sparse figure. Sources: NVIDIA datasheets as tabulated in
# shared/reference/hardware_power_cost.md Sec. 3a (dense = sparse / 2).
KNOWN_DENSE_PEAK_TFLOPS = {
    "A100": {"bf16": 312},
    "H100": {"bf16": 989, "fp8": 1979},
    "H800": {"bf16": 989, "fp8": 1979},
    "H200": {"bf16": 989, "fp8": 1979},
    "B200": {"bf16": 2250, "fp8": 4500, "fp4": 9000},
    "GB200": {"bf16": 2500, "fp8": 5000, "fp4": 10000},
    "GB300": {"bf16": 2500, "fp8": 5000, "fp4": 15000},
}


@dataclass(frozen=True)
class Column:
    name: str
    spec: Spec | None = None        # None: text
    required: bool = True           # False: may be empty (NaN)


GPU_COLUMNS = (
    Column("id"), Column("name"),
    Column("bf16_tflops_dense", Spec("TFLOPS", min=0, min_inclusive=False, max=20000)),
    Column("fp8_tflops_dense", Spec("TFLOPS", min=0, min_inclusive=False, max=40000), required=False),
    Column("fp4_tflops_dense", Spec("TFLOPS", min=0, min_inclusive=False, max=80000), required=False),
    Column("hbm_gb", Spec("GB", min=0, min_inclusive=False, max=2000)),
    Column("hbm_tb_s", Spec("TB/s", min=0, min_inclusive=False, max=100)),
    Column("nvlink_gb_s_per_gpu", Spec("GB/s", min=0, max=20000)),
    Column("nvlink_domain_gpus", Spec("GPUs", min=1, max=100000, integer=True)),
    Column("scale_out_gb_s_per_gpu", Spec("GB/s", min=0, min_inclusive=False, max=10000)),
    Column("tdp_w", Spec("W", min=0, min_inclusive=False, max=10000)),
    Column("system"),
    Column("system_gpus", Spec("GPUs", min=1, max=1000, integer=True)),
    Column("system_power_kw", Spec("kW", min=0, min_inclusive=False, max=2000), required=False),
    Column("launch_year", Spec("year", min=2010, max=2040, integer=True)),
    Column("price_usd_low", Spec("USD", min=0, min_inclusive=False, max=1_000_000)),
    Column("price_usd_central", Spec("USD", min=0, min_inclusive=False, max=1_000_000)),
    Column("price_usd_high", Spec("USD", min=0, min_inclusive=False, max=1_000_000)),
    Column("price_source"), Column("source"), Column("source_date"),
    Column("architecture", required=False),
    Column("host_link_gb_s_per_gpu", Spec("GB/s", min=0, min_inclusive=False, max=5000), required=False),
)


@dataclass(frozen=True)
class GpuSpec:
    """One GPU type, per GPU. All TFLOPS are dense (no 2:4 sparsity)."""

    id: str
    name: str
    bf16_tflops_dense: float
    fp8_tflops_dense: float
    fp4_tflops_dense: float
    hbm_gb: float
    hbm_tb_s: float
    nvlink_gb_s_per_gpu: float
    nvlink_domain_gpus: int
    scale_out_gb_s_per_gpu: float
    tdp_w: float
    system: str
    system_gpus: int
    system_power_kw: float
    launch_year: int
    price_usd_low: float
    price_usd_central: float
    price_usd_high: float
    price_source: str
    source: str
    source_date: str
    architecture: str = ""           # GPU architecture (ampere | hopper | blackwell): the step model's efficiency class
    host_link_gb_s_per_gpu: float = float("nan")   # GPU <-> host memory, one way (PCIe or NVLink-C2C): CPU offload

    def peak_tflops(self, precision: str = "bf16") -> float:
        """Dense peak TFLOPS at ``precision`` (bf16 | fp16 | fp8 | fp4); NaN if unsupported."""
        if precision not in PRECISIONS:
            raise InputError(f"precision: {shown(precision)} is not allowed; use one of {', '.join(PRECISIONS)}")
        column = "bf16" if precision == "fp16" else precision
        return getattr(self, f"{column}_tflops_dense")

    @property
    def price(self) -> Param:
        return Param(self.price_usd_central, self.price_usd_low, self.price_usd_high, self.price_source)


def _where(path: Path) -> str:
    return io.where(path)


def validate_table(df: pd.DataFrame, columns: tuple[Column, ...], path: Path, key: str = "id") -> pd.DataFrame:
    """Check columns, types, bounds, sources and unique ``key``; return the typed frame.

    Rows are numbered as data rows (header = row 1); a table without rows, a ``key`` with
    leading/trailing spaces and a repeated ``key`` are errors naming the file and the row."""
    where = _where(path)
    if Path(path).is_file():  # tables read with pd.read_csv directly: a shifted row is still caught
        io.check_csv_text(io.read_text(path), where)
    missing = [c.name for c in columns if c.name not in df.columns]
    if missing:
        raise InputError(f"{where}: missing column {shown(missing[0])}; required columns are {', '.join(c.name for c in columns)}")
    if df.empty:
        raise InputError(f"{where}: no rows below the header; expected at least one row with columns "
                         f"{', '.join(c.name for c in columns[:4])}, ...")
    df = df.copy()
    first_row: dict = {}
    for row_number, (_, row) in enumerate(df.iterrows(), start=2):  # line 1 is the header
        label = f"{where} row {row_number} ({key}={shown(row.get(key), 40)})"
        key_value = row.get(key)
        if isinstance(key_value, str) and key_value != key_value.strip():
            raise InputError(f"{label} column {shown(key)}: {shown(key_value)} has leading or trailing spaces; remove them")
        if key in df.columns and not pd.isna(key_value):
            if key_value in first_row:
                raise InputError(f"{label}: duplicate {key} {shown(key_value)} (first in row {first_row[key_value]}); "
                                 f"every {key} must be unique")
            first_row[key_value] = row_number
        for column in columns:
            value = row[column.name]
            empty = value is None or (isinstance(value, float) and np.isnan(value)) or (isinstance(value, str) and not value.strip())
            if empty:
                if column.required:
                    what = "a source (URL or paper + table, with date) or 'assumption: ...'" if "source" in column.name else (column.spec.allowed() if column.spec else "text")
                    raise InputError(f"{label} column {shown(column.name)}: empty; expected {what}")
                continue
            if column.spec is not None:
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    raise InputError(f"{label} column {shown(column.name)}: {shown(value)} is not a number; expected {column.spec.allowed()}") from None
                column.spec.check(f"{label} column {shown(column.name)}", number)
    return df


def _check_dense_peaks(df: pd.DataFrame, path: Path) -> None:
    """Reject sparse (2:4) figures written into the dense columns."""
    for row_number, (_, row) in enumerate(df.iterrows(), start=2):
        label = f"{_where(path)} row {row_number} ({shown(row['id'], 40)})"
        for precision, ceiling in KNOWN_DENSE_PEAK_TFLOPS.get(row["id"], {}).items():
            value = row[f"{precision}_tflops_dense"]
            if pd.notna(value) and value > ceiling * 1.02:
                raise InputError(f"{label} column '{precision}_tflops_dense': {value:g} exceeds the known dense peak {ceiling:g} TFLOPS; "
                                 "this looks like the 2:4-sparse figure (dense = sparse / 2)")
        if pd.notna(row["fp8_tflops_dense"]) and row["fp8_tflops_dense"] > 2.05 * row["bf16_tflops_dense"]:
            raise InputError(f"{label} column 'fp8_tflops_dense': {row['fp8_tflops_dense']:g} is more than 2x the BF16 dense peak; "
                             "one of the two is probably a sparse figure")
        if not row["price_usd_low"] <= row["price_usd_central"] <= row["price_usd_high"]:
            raise InputError(f"{label} columns price_usd_low/central/high: {row['price_usd_low']:g}/{row['price_usd_central']:g}/"
                             f"{row['price_usd_high']:g} are not ordered; need low <= central <= high")


@lru_cache(maxsize=8)
def _load_gpus_cached(path: str) -> pd.DataFrame:
    file = Path(path)
    df = validate_table(io.read_csv(file, dtype={"id": str, "source_date": str}), GPU_COLUMNS, file)
    _check_dense_peaks(df, file)
    for c in ("nvlink_domain_gpus", "system_gpus", "launch_year"):
        df[c] = df[c].astype(int)
    return df.set_index("id", drop=False)


def load_gpus(path: Path | str | None = None) -> pd.DataFrame:
    """The validated GPU table indexed by ``id`` (a copy; callers may modify it)."""
    return _load_gpus_cached(str(path or DATA_DIR / "gpus.csv")).copy()


def gpu_ids() -> list[str]:
    return list(load_gpus().index)


def gpu(gpu_id: str, path: Path | str | None = None) -> GpuSpec:
    """The :class:`GpuSpec` of ``gpu_id``; an unknown id lists the known ones (a GpuSpec is
    frozen, so one per file version and id is shared: the step-model search asks ~130 times per
    scenario)."""
    source = Path(path or DATA_DIR / "gpus.csv")
    return _gpu(str(gpu_id), *_file_stamp(source))


@lru_cache(maxsize=64)
def _gpu(gpu_id: str, path: str, _mtime_ns: int, _size: int) -> GpuSpec:
    table = _load_gpus_cached(path)
    if gpu_id not in table.index:
        raise InputError(f"gpu: unknown GPU {shown(gpu_id)}; known GPUs are {', '.join(table.index)}")
    row = table.loc[gpu_id]
    cast = {"float": float, "int": int, "str": str}
    values = {f.name: cast[f.type](row[f.name]) if pd.notna(row[f.name]) else float("nan") for f in fields(GpuSpec)}
    return GpuSpec(**values)


# --------------------------------------------------------------------------- clusters
POOL_SPECS = {
    # physical bounds: the largest sites planned hold ~1M GPUs; the fastest NICs ~200 GB/s per GPU
    "count": Spec("GPUs", min=1, max=10_000_000, integer=False),
    "scale_out_gb_s_per_gpu": Spec("GB/s", min=0, min_inclusive=False, max=10_000),
}
#: Site power (MW): the largest announced campuses are a few GW.
SITE_POWER_SPEC = Spec("MW", min=0, min_inclusive=False, max=50_000)
#: Longest free-text field read from a cluster or scenario file (characters).
MAX_TEXT_CHARS = 10_000
CLUSTER_KEYS = {"id", "name", "description", "site_power_mw", "pools", "notes"}
POOL_KEYS = {"name", "gpu", "count", "scale_out_gb_s_per_gpu", "network"}


@dataclass(frozen=True)
class Pool:
    """GPUs of one type in a cluster."""

    name: str
    gpu: GpuSpec
    count: Param
    scale_out_gb_s_per_gpu: Param
    network: str = ""

    @property
    def gpus(self) -> float:
        return float(self.count.value)


@dataclass(frozen=True)
class Cluster:
    id: str
    name: str
    description: str
    pools: tuple[Pool, ...]
    site_power_mw: Param | None

    @property
    def gpus(self) -> float:
        return sum(p.gpus for p in self.pools)

    def totals(self) -> dict[str, float]:
        """Whole-cluster sums of :meth:`summary` (GPUs, dense peaks, HBM, nameplate power)."""
        table = self.summary()
        columns = ["gpus", "peak_eflops_bf16_dense", "peak_eflops_fp8_dense", "hbm_pb", "gpu_tdp_mw", "system_nameplate_mw"]
        return {c: float(table[c].sum(min_count=1)) for c in columns}

    def summary(self) -> pd.DataFrame:
        """One row per pool: count, peaks (dense EFLOPS), HBM, nameplate IT power."""
        rows = []
        for p in self.pools:
            n, g = p.gpus, p.gpu
            system_kw = g.system_power_kw if np.isfinite(g.system_power_kw) else np.nan
            rows.append({
                "pool": p.name, "gpu": g.id, "gpus": n,
                "peak_eflops_bf16_dense": n * g.bf16_tflops_dense / 1e6,
                "peak_eflops_fp8_dense": n * g.fp8_tflops_dense / 1e6,
                "hbm_pb": n * g.hbm_gb / 1e6,
                "gpu_tdp_mw": n * g.tdp_w / 1e6,
                "system_nameplate_mw": n / g.system_gpus * system_kw / 1e3,
                "nvlink_domain_gpus": g.nvlink_domain_gpus,
                "scale_out_gb_s_per_gpu": p.scale_out_gb_s_per_gpu.value,
                "count_source": p.count.source,
            })
        return pd.DataFrame(rows)


def _require(mapping: dict, key: str, where: str):
    if key not in mapping:
        raise InputError(f"{where}: missing key {shown(key)}")
    return mapping[key]


def text_field(field: str, value, limit: int = MAX_TEXT_CHARS) -> str:
    """``value`` if it is text of at most ``limit`` characters (numbers are taken as their text)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputError(f"{field}: {shown(value)} is not text; expected a string")
    text = str(value)
    if len(text) > limit:
        raise InputError(f"{field}: {len(text):,} characters is above the limit of {limit:,}; shorten it")
    return text


def read_yaml(path: Path | str, max_bytes: int = io.MAX_INPUT_BYTES, mapping: bool = True):
    """A YAML mapping read safely (size limit, strict UTF-8, no aliases or duplicate keys):
    :func:`analysis.io.read_yaml`; errors name the file."""
    return io.read_yaml(path, max_bytes=max_bytes, mapping=mapping)


def parse_cluster(doc: dict, path: Path) -> Cluster:
    where = _where(path)
    unknown = set(doc) - CLUSTER_KEYS
    if unknown:
        raise InputError(f"{where}: unknown key {shown(sorted(unknown, key=str)[0])}; allowed keys are {', '.join(sorted(CLUSTER_KEYS))}")
    cluster_id = check_id(f"{where} id", _require(doc, "id", where))
    pools_raw = _require(doc, "pools", where)
    if not isinstance(pools_raw, list) or not pools_raw:
        raise InputError(f"{where} pools: expected a non-empty list of pools")
    pools, names = [], set()
    for i, raw in enumerate(pools_raw):
        at = f"{where} pools[{i}]"
        if not isinstance(raw, dict):
            raise InputError(f"{at}: expected a mapping with keys {', '.join(sorted(POOL_KEYS))}")
        unknown = set(raw) - POOL_KEYS
        if unknown:
            raise InputError(f"{at}: unknown key {shown(sorted(unknown, key=str)[0])}; allowed keys are {', '.join(sorted(POOL_KEYS))}")
        gpu_id = _require(raw, "gpu", at)
        if not isinstance(gpu_id, str):
            raise InputError(f"{at}.gpu: {shown(gpu_id)} is not a GPU id (text); known GPUs are {', '.join(gpu_ids())}")
        spec = gpu(gpu_id)
        name = text_field(f"{at}.name", raw.get("name", spec.id), limit=200)
        if name in names:
            raise InputError(f"{at}.name: duplicate pool name {shown(name)}; pool names must be unique")
        names.add(name)
        count = parse_param(f"{at}.count", _require(raw, "count", at), POOL_SPECS["count"], require_source=True)
        bw_raw = raw.get("scale_out_gb_s_per_gpu", {"value": spec.scale_out_gb_s_per_gpu, "source": f"default of {spec.id} in data/gpus.csv"})
        bw = parse_param(f"{at}.scale_out_gb_s_per_gpu", bw_raw, POOL_SPECS["scale_out_gb_s_per_gpu"], require_source=True)
        pools.append(Pool(name, spec, count, bw, text_field(f"{at}.network", raw.get("network", ""), limit=1000)))
    site = doc.get("site_power_mw")
    site_param = parse_param(f"{where} site_power_mw", site, SITE_POWER_SPEC, require_source=True) if site is not None else None
    description = doc.get("description")
    return Cluster(cluster_id, text_field(f"{where} name", doc.get("name", cluster_id), limit=200),
                   text_field(f"{where} description", "" if description is None else description).strip(),
                   tuple(pools), site_param)


def cluster_ids() -> list[str]:
    return sorted(p.stem for p in CLUSTER_DIR.glob("*.yaml"))


def load_cluster(cluster_id: str) -> Cluster:
    """The cluster ``data/clusters/<cluster_id>.yaml``; an unknown id lists the known ones."""
    if not isinstance(cluster_id, str) or not SAFE_ID.fullmatch(cluster_id):
        raise InputError(f"cluster: {shown(cluster_id)} is not a cluster id; known clusters are {', '.join(cluster_ids())}")
    path = CLUSTER_DIR / f"{cluster_id}.yaml"
    if not path.exists():
        raise InputError(f"cluster: unknown cluster {shown(cluster_id)}; known clusters are {', '.join(cluster_ids())}")
    return _cluster(cluster_id, *_file_stamp(path))


@lru_cache(maxsize=32)
def _cluster(cluster_id: str, path: str, _mtime_ns: int, _size: int) -> Cluster:
    # Parsed once per version of the file (a Cluster is frozen, so it is shared safely).
    cluster = parse_cluster(read_yaml(path), Path(path))
    if cluster.id != cluster_id:
        raise InputError(f"{_where(Path(path))} id: {shown(cluster.id)} does not match the file name {shown(cluster_id)}")
    return cluster


# --------------------------------------------------------------------------- model architectures
def load_models() -> dict[str, dict]:
    """Transformer architectures by id from ``data/models.yaml`` (keys as in the ``mfu`` run schema).
    A fresh copy each call: callers may change it without touching the parsed file."""
    return copy.deepcopy(_models(*_file_stamp(DATA_DIR / "models.yaml")))


def _file_stamp(path: Path) -> tuple[str, int, int]:
    """(path, mtime in ns, size): the key under which a parsed data file is reused."""
    stat = Path(path).stat()
    return str(path), stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=4)
def _models(path: str, _mtime_ns: int, _size: int) -> dict[str, dict]:
    # Parsed once per version of the file: the step model asks for an architecture ~130 times per
    # scenario evaluation, and re-parsing the YAML each time cost ~5 s.
    doc = read_yaml(path)
    for model_id, spec in doc.items():
        if not isinstance(spec, dict) or not str(spec.get("source", "")).strip():
            raise InputError(f"{_where(Path(path))} {shown(model_id)}: every model needs a mapping with a 'source'")
    return doc


def model(model_id: str) -> dict:
    models = _models(*_file_stamp(DATA_DIR / "models.yaml"))
    if model_id not in models:
        raise InputError(f"model: unknown model {shown(model_id)}; known models are {', '.join(models)}")
    return copy.deepcopy(models[model_id])


# --------------------------------------------------------------------------- published utilization figures
UTILIZATION_REFERENCE_COLUMNS = (
    Column("label"), Column("utilization", Spec("fraction of peak", min=0, min_inclusive=False, max=1)), Column("basis"),
    Column("source"), Column("date"), Column("confidence"),
)


def load_utilization_references(path: Path | str | None = None) -> pd.DataFrame:
    """Published utilization observations (fraction of peak that became model FLOPs) with basis
    and source (``data/utilization_references.csv``), indexed by label; a utilization outside
    (0, 1] or a row without a source is rejected."""
    file = Path(path or DATA_DIR / "utilization_references.csv")
    table = validate_table(io.read_csv(file, dtype={"date": str}), UTILIZATION_REFERENCE_COLUMNS, file, key="label")
    return table.set_index("label", drop=False)


def observed_utilization() -> dict:
    """The reported xAI figure (~11% MFU, whole fleet, basis unstated) from data/utilization_references.csv."""
    return dict(_observed_utilization(io.file_stamp(DATA_DIR / "utilization_references.csv")))


@lru_cache(maxsize=4)
def _observed_utilization(stamp: tuple) -> dict:
    # read once per version of the file (every evaluation and sweep point asks)
    table = load_utilization_references(stamp[0])
    row = table[table["label"].str.startswith("xAI")].iloc[0]
    return {"value": float(row["utilization"]), "label": row["label"], "basis": row["basis"], "source": row["source"],
            "date": row["date"]}
