"""The one number formatter of every report: human units, never a raw float or a code name.

Every table and chart label a stakeholder reads goes through these functions, so ``$13.3B``,
``9.0%`` and ``2.4T tokens/day`` look the same in every report. Missing values read ``n/a``
(never ``NaN``), booleans ``yes``/``no`` (never ``True``/``False``).

* scalars: :func:`usd`, :func:`pct`, :func:`irr`, :func:`points`, :func:`number`, :func:`scaled`,
  :func:`mw`, :func:`tokens_per_day`, :func:`usd_per_gpu_hour`, :func:`factor`, :func:`band`,
  :func:`yes_no`, :func:`auto` (any value, by type);
* text that reaches HTML or Markdown: :func:`escape_html`, :func:`escape_md`, :func:`link` /
  :func:`md_link` (a source rendered as a link when it is a URL);
* tables: :func:`table` returns a :class:`Table` (formatted cells, human column labels, a
  ``_repr_html_`` that scrolls inside its own box) -- the one way a notebook shows a frame.
  Column formats are inferred from the unit in the column name (``_usd``, ``_mw``, ``irr``,
  ``utilization``, ``p_...``, ``source``) unless given.

Conventions for every notebook and view module
----------------------------------------------
* Numbers: never print a float; use these functions (``F.usd(x)``, ``F.pct(x)``, ``F.band(v, lo, hi)``)
  in sentences and :func:`table` for frames (``F.table(df, {"col": "usd"})``; a view returns the
  :class:`Table`, the notebook shows it as the cell's last expression).
* Names: register human labels for your parameters, factors and columns next to the code that
  defines them (``labels.register({...})``); tables and charts call ``labels.label(name)``.
* User strings (scenario name/title/description, cluster, pool and GPU names, sources) go into
  Markdown through ``escape_md`` and into HTML through ``escape_html``/``link``.
* Charts: plot functions return the Figure; the notebook assigns it (``fig = view.chart()``) so it
  shows once. Give it alt text with ``analysis.notebook.set_alt(fig, "...")`` (a sentence with
  the figure's numbers); without it the alt text is built from the titles and axis labels.
  Text in charts is at least 10 pt (``analysis.plots.set_theme``; ``plots.SMALL`` for annotations).
"""
from __future__ import annotations

import html as _html
import math
import re
from collections.abc import Callable, Mapping
from analysis.errors import shown

_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
MISSING = "n/a"


def finite(value) -> float | None:
    """``value`` as a float, or None when it is missing, not a number, infinite or a bool."""
    if isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def number(value, digits: int = 3) -> str:
    """A plain number with ``digits`` significant digits and thousands separators (``1,380``, ``0.787``)."""
    x = finite(value)
    if x is None:
        return MISSING
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits:
        return f"{x:,.0f}"
    x = float(f"{x:.{digits}g}")   # round to significant digits first: 0.9999 -> 1.00, not 1.000
    if abs(x) >= 10 ** digits:
        return f"{x:,.0f}"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))
    text = f"{x:,.{decimals}f}"
    return "0" if float(text.replace(",", "")) == 0 else text


def integer(value) -> str:
    """A count: ``16,384``."""
    x = finite(value)
    return MISSING if x is None else f"{x:,.0f}"


def scaled(value, unit: str = "", digits: int = 3) -> str:
    """A number with a k / M / B / T suffix (``2.4T tokens/day``, ``518k GPUs``)."""
    x = finite(value)
    if x is None:
        return MISSING
    steps = [(1.0, "")] + sorted(((limit, suffix) for limit, suffix in _SUFFIXES), key=lambda t: t[0])
    i = max(j for j, (limit, _) in enumerate(steps) if abs(x) >= limit or j == 0)
    mantissa = number(x / steps[i][0], digits)
    if abs(float(mantissa.replace(",", ""))) >= 1000 and i + 1 < len(steps):  # 999.9k rounds to 1.00M
        i += 1
        mantissa = number(x / steps[i][0], digits)
    text = f"{mantissa}{steps[i][1]}"
    return f"{text} {unit}".strip()


def usd(value, digits: int = 3) -> str:
    """Money: ``$13.3B``, ``-$6.05B``, ``$1.81``, ``$450k``."""
    x = finite(value)
    if x is None:
        return MISSING
    sign = "-" if x < 0 else ""
    return f"{sign}${scaled(abs(x), digits=digits)}"


def usd_per_gpu_hour(value) -> str:
    """A rate: ``$2.45/GPU-h``."""
    x = finite(value)
    return MISSING if x is None else f"{usd(x)}/GPU-h"


def pct(value, decimals: int = 1) -> str:
    """A fraction as a percentage: ``0.09`` -> ``9.0%``."""
    x = finite(value)
    if x is None:
        return MISSING
    text = f"{100 * x:.{decimals}f}"
    while decimals > 0 and len(text.lstrip("-").replace(".", "").lstrip("0")) > 4:   # 100.00% -> 100.0%: 4 digits at most
        decimals -= 1
        text = f"{100 * x:.{decimals}f}"
    return f"{text}%"


def signed_pct(value, decimals: int = 0) -> str:
    """A relative error as a signed percentage: ``0.194`` -> ``+19%``, ``-0.004`` -> ``0%`` (never ``-0%``)."""
    x = finite(value)
    if x is None:
        return MISSING
    text = f"{100 * x:+.{decimals}f}"
    return f"{'0' if float(text) == 0 else text}%"


def irr(value, decimals: int = 1) -> str:
    """An internal rate of return (a fraction per year) in percent: ``0.153`` -> ``15.3%/yr``."""
    x = finite(value)
    return MISSING if x is None else f"{pct(x, decimals)}/yr"


def points(value, decimals: int = 1) -> str:
    """A difference of fractions in percentage points: ``0.021`` -> ``+2.1 pts``."""
    x = finite(value)
    if x is None:
        return MISSING
    return f"{100 * x:+.{decimals}f} pts"


def factor(value, decimals: int = 2) -> str:
    """A multiplicative factor: ``0.49`` -> ``×0.49``; from ten up three significant figures (``×49.3``, ``×188``)."""
    x = finite(value)
    if x is None:
        return MISSING
    if abs(x) >= 10:
        decimals = min(decimals, max(0, 2 - int(math.floor(math.log10(abs(x))))))
        return f"\u00d7{x:,.{decimals}f}"
    return f"\u00d7{x:.{decimals}f}"


def mw(value, digits: int = 3) -> str:
    """Power: ``151 MW``, ``1,380 MW``, ``0.42 MW``."""
    x = finite(value)
    return MISSING if x is None else f"{number(x, digits)} MW"


def tokens_per_day(value) -> str:
    """``2.4T tokens/day``."""
    return scaled(value, "tokens/day", digits=2)


def tokens_per_s(value) -> str:
    return scaled(value, "tokens/s", digits=3)


def yes_no(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return "yes" if bool(value) else "no"


def utc_time(value) -> str:
    """An ISO 8601 time stamp as a reader writes it: ``2026-12-01T20:52:10+00:00`` ->
    ``1 Dec 2026, 20:52 UTC``; anything else as given (n/a when missing)."""
    import datetime as dt

    if value is None or value == "":
        return MISSING
    try:
        t = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc)
    return f"{t.day} {t:%b %Y, %H:%M} UTC"


def first_upper(text: str) -> str:
    """``text`` with its first letter capitalized and the rest as it is (``lease and rebuild`` ->
    ``Lease and rebuild``; an abbreviation such as ``xAI`` keeps its case after the first letter)."""
    return text[:1].upper() + text[1:]


def band(value, low, high, fmt=pct) -> str:
    """A central value with its 5-95% range: ``9.0% (4.1% to 13.2%)``."""
    if finite(low) is None or finite(high) is None:
        return fmt(value)
    return f"{fmt(value)} ({fmt(low)} to {fmt(high)})"


# the confidence grades of the data files (api_prices, tco_estimates, utilization_references) as a reader reads them
CONFIDENCE_NAMES = {"H": "high", "M": "medium", "L": "low", "U": "unverified"}


def confidence_name(grade) -> str:
    """``"M"`` -> ``"medium"``; any other text (``derived``) as given."""
    return CONFIDENCE_NAMES.get(str(grade), str(grade))


def outside_band(value, low, high) -> bool:
    """Whether a central value lies outside its own 5-95% band (False when any of the three is missing)."""
    return None not in (value, low, high) and not low <= value <= high


def central_outside_note(figures: list[str]) -> str:
    """Why a central value can lie outside its own 5-95% range, naming the ``figures`` where it does ('' for none).

    The central value sets every input at its most likely value (the mode of its triangular range); where ranges reach
    further on one side (failure and repair rates, queueing, checkpoint intervals above their optimum all reach
    further on the costly side), most draws of a product of many such factors fall on that side of it."""
    if not figures:
        return ""
    listed = ", ".join(figures[:-1]) + (" and " if len(figures) > 1 else "") + figures[-1]
    return (f"A central value sets every parameter at its most likely value. Several sourced ranges reach further on "
            f"the costly side (failure and repair rates, queueing, checkpoint intervals above their optimum), so most "
            f"draws can fall on one side of a central value and it can lie outside its own 5-95% range: here "
            f"{listed}.")


def auto(value) -> str:
    """Any value by its type: numbers with 3 significant digits, booleans yes/no, missing n/a,
    dicts and lists never dumped raw (``a: 1.2; b: 3``)."""
    if value is None or isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, float) and not math.isfinite(value):
        return MISSING
    if isinstance(value, int):   # a count; a large one with many digits reads scaled (16,777,216 -> 16.8M)
        if abs(value) >= 1e6 and len(str(abs(value)).rstrip("0")) > 4:
            return scaled(value)
        return integer(value)
    if finite(value) is not None and not isinstance(value, str):
        return number(value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {auto(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return ", ".join(auto(v) for v in value)
    text = str(value)
    if text.lower() in ("nan", "none", ""):
        return MISSING
    parts = [p.strip() for p in text.split(",")]
    if len(parts) > 1 and all(re.fullmatch(r"[a-z][a-z0-9_]*", p) for p in parts):   # keep,lease,islands: names
        from analysis.report.labels import registered
        names = registered()
        if all(p in names for p in parts):
            return "; ".join(names[p] for p in parts)
    return text


def text(value) -> str:
    """A text cell: the string itself, empty for a missing value (numbers still formatted)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return _plain(value) if isinstance(value, str) else auto(value)


# --------------------------------------------------------------------------- text into HTML / Markdown
_URL = re.compile(r"https?://[^\s<>\"']+")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~$])")


def escape_html(text) -> str:
    """Text for HTML (element content or a quoted attribute)."""
    return _html.escape("" if text is None else str(text), quote=True)


def escape_md(text) -> str:
    """Text from a user file for Markdown: HTML-escaped (so no tag survives, Markdown allows raw
    HTML), and Markdown's own syntax characters backslash-escaped (so no link, emphasis or
    math span is made from it)."""
    text = _html.escape("" if text is None else str(text), quote=False)   # &, <, > as entities; quotes are inert here
    return _MD_SPECIAL.sub(r"\\\1", text.replace("\r", " ").replace("\n", " "))


_E_NOTATION = re.compile(r"(?<![\w.])\d+(?:\.\d+)?e[+-]?\d+(?![\w.])")


def _plain(text: str) -> str:
    """Prose for a reader: parameter names as their labels, ``85.9e9`` as ``85.9B``."""
    from analysis.report.labels import plain
    words = {"k": " thousand", "M": " million", "B": " billion", "T": " trillion"}

    def spelled(m):
        x = float(m.group(0))
        if x != 0 and not 1e-3 <= abs(x) < 1e15:      # beyond "trillion": powers of ten (3.8e25 -> 3.8 × 10²⁵)
            return power_of_ten(x)
        text = scaled(x)
        return text[:-1] + words[text[-1]] if text[-1:] in words else text
    return _E_NOTATION.sub(spelled, plain(text))


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(x: float, digits: int = 3) -> str:
    """A number in scientific form for a reader: ``3.8e25`` -> ``3.8 × 10²⁵``."""
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def link(source, text: str | None = None) -> str:
    """HTML for a source: each URL in it becomes a link, the rest is escaped text (parameter
    names in it read as their labels, :func:`analysis.report.labels.plain`)."""
    if source is None or (isinstance(source, float) and not math.isfinite(source)):
        return MISSING
    source = str(source)
    out, last = [], 0
    for m in _URL.finditer(source):
        url = m.group(0).rstrip(".,;)")
        out.append(escape_html(_plain(source[last:m.start()])))
        out.append(f'<a href="{escape_html(url)}">{escape_html(text or url)}</a>')
        last = m.start() + len(url)
    out.append(escape_html(_plain(source[last:])))
    return "".join(out)


def md_link(source) -> str:
    """Markdown for a source: URLs as ``<url>`` autolinks, the rest escaped."""
    source = "" if source is None else str(source)
    out, last = [], 0
    for m in _URL.finditer(source):
        url = m.group(0).rstrip(".,;)")
        out.append(escape_md(_plain(source[last:m.start()])))
        out.append(f"[{escape_md(url)}]({url.replace(')', '%29').replace(' ', '%20')})")
        last = m.start() + len(url)
    out.append(escape_md(_plain(source[last:])))
    return "".join(out)


# --------------------------------------------------------------------------- tables
FORMATS: dict[str, Callable] = {
    "usd": usd, "pct": pct, "percent": pct, "irr": irr, "points": points, "number": number, "integer": integer,
    "scaled": scaled, "mw": mw, "tokens_per_day": tokens_per_day, "tokens_per_s": tokens_per_s, "signed_pct": signed_pct,
    "usd_per_gpu_hour": usd_per_gpu_hour, "factor": factor, "yes_no": yes_no, "auto": auto, "text": text,
    "link": link,
}
HTML_FORMATS = {"link"}   # formats whose output is already HTML (everything else is escaped)

# (pattern on the column name, format); first match wins
_INFERRED = (
    (r"(^|_)irr($|_)", "irr"),
    (r"(^source$|_source$|^url$|^source_url$)", "link"),
    (r"usd_per_gpu_hour", "usd_per_gpu_hour"),
    (r"(^|_)usd($|_)", "usd"),
    (r"(^p_|_share$|^share_|utilization|_frac$|_fraction$|ettr|effective_training_time|^mfu|_mfu$|_pct$|goodput)", "pct"),
    (r"_mw$", "mw"),
    (r"tokens_per_day", "tokens_per_day"),
    (r"tokens_per_s", "tokens_per_s"),
    (r"(^gpus$|_gpus$|gpus_per_replica|^n_|count$|months$|(^|_)batch$)", "integer"),
    (r"(^factor$|_factor$)", "factor"),
)


#: Words a reader writes in capitals: number formats and acronyms (``bf16`` -> ``BF16``).
UPPER_WORDS = frozenset({"bf16", "fp8", "fp4", "fp16", "nvfp4", "mxfp8", "gqa", "mla", "gpu", "tco"})


def peak_basis(denominator) -> str:
    """A peak basis as a reader writes it: ``bf16 dense`` -> ``BF16 dense``, ``fp8_dense`` -> ``FP8 dense``."""
    return " ".join(w.upper() if w.lower() in UPPER_WORDS else w for w in str(denominator).replace("_", " ").split())


def infer_format(column: str, values=None) -> str:
    name = str(column).lower()
    for pattern, fmt in _INFERRED:
        if re.search(pattern, name):
            return fmt
    if values is not None:
        try:
            kinds = {type(v) for v in values if v is not None}
        except TypeError:
            kinds = set()
        if kinds and kinds <= {bool}:
            return "yes_no"
    return "auto"


def _formatter(fmt) -> tuple[Callable, bool]:
    if callable(fmt):
        return fmt, False
    if fmt not in FORMATS:
        raise KeyError(f"format {shown(fmt)}: known formats are {', '.join(sorted(FORMATS))}")
    return FORMATS[fmt], fmt in HTML_FORMATS


_TABLE_CSS = "overflow-x:auto;max-width:100%"


class Table:
    """A formatted table: ``frame`` holds the cell text, ``html_cells`` the cells that already are HTML.

    Displays as an HTML table inside a box that scrolls horizontally on a narrow screen
    (``_repr_html_``); ``to_frame()`` gives the text frame (for CSV or tests)."""

    def __init__(self, frame, html_columns=(), caption: str | None = None, index_label: str | None = None,
                 text_columns=None):
        self.frame = frame
        self.html_columns = set(html_columns)
        self.text_columns = set(html_columns if text_columns is None else text_columns)
        self.caption = caption
        self.index_label = index_label

    def to_frame(self):
        return self.frame

    def with_html(self, columns) -> "Table":
        """Mark ``columns`` (labels) as cells that already are HTML, escaped by the caller (links)."""
        self.html_columns |= set(columns)
        self.text_columns |= set(columns)
        return self

    def __len__(self) -> int:
        return len(self.frame)

    def _shows_index(self) -> bool:
        df = self.frame
        return not (df.index.name is None and list(df.index) == list(range(len(df))))

    def __repr__(self) -> str:
        """Plain text: the cells (already text) in aligned columns, numbers to the right, text and
        the index (first, when shown) to the left."""
        df = self.frame
        columns = [([str(c), *map(str, df[c].tolist())], c in self.text_columns) for c in df.columns]
        if self._shows_index():
            columns.insert(0, ([str(self.index_label or df.index.name or ""), *map(str, df.index)], True))
        widths = [max(map(len, col)) for col, _ in columns]
        lines = ("  ".join(col[i].ljust(w) if left else col[i].rjust(w) for (col, left), w in zip(columns, widths)).rstrip()
                 for i in range(len(df) + 1))
        return "\n".join(lines)

    def to_html(self) -> str:
        df = self.frame
        show_index = self._shows_index()
        head = "".join(f"<th>{escape_html(c)}</th>" for c in df.columns)
        if show_index:
            head = f"<th>{escape_html(self.index_label or df.index.name or '')}</th>" + head
        # one template per column (its class, and whether its cells are escaped), filled row by row
        opening = [f'<td class="{"text" if c in self.text_columns else "num"}">' for c in df.columns]
        raw = [c in self.html_columns for c in df.columns]
        values = [df[c].tolist() for c in df.columns]
        rows = []
        for i, idx in enumerate(df.index):
            cells = "".join(f"{o}{col[i] if r else escape_html(col[i])}</td>" for o, r, col in zip(opening, raw, values))
            if show_index:
                cells = f"<th>{escape_html(idx)}</th>" + cells
            rows.append(f"<tr>{cells}</tr>")
        caption = f"<caption>{escape_html(self.caption)}</caption>" if self.caption else ""
        return (f'<div class="table-scroll" style="{_TABLE_CSS}"><table class="report-table">{caption}'
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")

    def _repr_html_(self) -> str:
        return self.to_html()


def table(df, formats: Mapping[str, object] | None = None, labels: Mapping[str, str] | bool = True,
          caption: str | None = None, index: bool | None = None, columns=None, index_label: str | None = None,
          label_index: bool = True) -> Table:
    """A reader's view of ``df``: every cell formatted, every column under its human label.

    ``formats`` ``{column: format name or callable}`` (names in :data:`FORMATS`), or one format
    for every column; columns not
    given are inferred from their name (:func:`infer_format`). ``labels``: ``True`` looks the
    column names up in :mod:`analysis.report.labels`, a mapping overrides some, ``False`` keeps
    them. The index is kept (and labelled) unless it is a plain ``0..n-1`` range or ``index`` is
    False; index values that are code names are labelled too (``label_index=False`` keeps them,
    e.g. for pool or GPU names from a user file).
    """
    import pandas as pd

    from analysis.report import labels as _labels

    if isinstance(df, pd.Series):
        df = df.to_frame()
    if columns is not None:
        df = df[list(columns)]
    if callable(formats) or isinstance(formats, str):   # one format for every column
        formats = {column: formats for column in df.columns}
    formats = dict(formats or {})
    cells: dict[str, list] = {}   # built as one frame at the end (inserting columns one by one is slow)
    html_columns, text_columns = [], []
    names = {}
    for column in df.columns:
        fmt = formats.get(column) or infer_format(column, df[column].tolist())
        if fmt in ("text", "link", "yes_no") or (fmt == "auto" and df[column].map(lambda v: isinstance(v, str)).any()):
            text_columns.append(None)   # placeholder, replaced by the label below
        fn, is_html = _formatter(fmt)
        if labels is False:
            name = str(column)
        elif isinstance(labels, Mapping) and column in labels:
            name = labels[column]
        else:
            name = _labels.label(str(column))
        while name in names.values():
            name += " "
        names[column] = name
        cells[name] = [fn(v) for v in df[column].tolist()]
        if text_columns and text_columns[-1] is None:
            text_columns[-1] = name
        if is_html:
            html_columns.append(name)
    out = pd.DataFrame(cells, index=df.index, columns=list(cells))
    default_index = df.index.name is None and list(df.index) == list(range(len(df)))
    if index is False or (index is None and default_index):   # a plain 0..n-1 index is not shown
        out = out.reset_index(drop=True)
    else:
        out.index = [(_labels.label(i) if label_index else i) if isinstance(i, str) else auto(i) for i in df.index]
        out.index.name = df.index.name
        if out.index.name and labels is not False:
            out.index.name = _labels.label(str(df.index.name))
    return Table(out, html_columns, caption, index_label, text_columns)


def key_values(items: Mapping[str, object], formats: Mapping[str, object] | None = None, caption: str | None = None) -> Table:
    """A two-column table (figure, value) of a flat mapping: never a printed dict."""
    import pandas as pd

    from analysis.report import labels as _labels

    formats = dict(formats or {})
    rows = []
    for key, value in items.items():
        fn, is_html = _formatter(formats.get(key) or infer_format(key, [value]))
        text = fn(value)
        rows.append((_labels.label(str(key)), text if is_html else escape_html(text)))
    frame = pd.DataFrame(rows, columns=["Figure", "Value"])
    return Table(frame, ("Value",), caption, text_columns=("Figure",))


class ResultView:
    """Mixin for report views and result objects (statsmodels style): ``summary()`` is plain text,
    ``_repr_html_`` the same figures as a formatted table, so a view shown as a cell's last
    expression reads as a table, never as a dict or a dataclass repr. Subclasses give
    ``metrics()`` ({name: value}) and optionally ``caption()``."""

    def metrics(self) -> dict:  # pragma: no cover - subclasses override
        return {}

    def caption(self) -> str:
        return ""

    def summary(self) -> str:
        frame = key_values(self.metrics()).to_frame()
        width = max((len(f) for f in frame["Figure"]), default=0)
        lines = [self.caption()] if self.caption() else []
        lines += [f"  {f:<{width}}  {_html.unescape(v)}" for f, v in zip(frame["Figure"], frame["Value"])]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return key_values(self.metrics(), caption=self.caption() or None)._repr_html_()

    def __repr__(self) -> str:
        return self.summary()
