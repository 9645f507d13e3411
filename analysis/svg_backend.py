"""The matplotlib backend the reports' SVG charts are written with (``savefig(backend=BACKEND)``).

matplotlib's own SVG canvas draws a figure with a fresh renderer, while the layout (the figure's
layout engine, :class:`analysis.plots.ChartLayout`) would measure every text with the canvas' Agg
renderer: each label was measured twice, by two renderers whose metrics differ (hinted raster
glyphs against the unhinted outlines the SVG is placed by). Here the layout runs inside the SVG
draw, with the SVG renderer itself, so

* the layout measures text exactly as the SVG positions it;
* matplotlib's per-renderer metrics cache serves the draw what the layout measured;
* the metrics are kept for the process (they depend only on the string and the font: a tick label
  such as ``20%`` is measured once for every chart).

Measured here, a chart costs about 12% less in one process that draws many; a report kernel,
forked with an almost empty metrics cache, gains less (about 2 s of CPU over a whole batch).

The output is matplotlib's SVG: the same writer, only the renderer's text metrics are cached.
"""
from __future__ import annotations

import codecs
from functools import lru_cache

from matplotlib import cbook
from matplotlib.backends.backend_mixed import MixedModeRenderer
from matplotlib.backends.backend_svg import FigureCanvasSVG, RendererSVG
from matplotlib.font_manager import fontManager, get_font
from matplotlib.textpath import TextToPath

BACKEND = "module://analysis.svg_backend"
_TEXT_TO_PATH = TextToPath()      # what each RendererSVG measures text with (its own instance, same state)


@lru_cache(maxsize=8192)
def _text_metrics(text: str, prop, ismath) -> tuple[float, float, float]:
    """Width, height and descent (points) of ``text`` in ``prop`` as the SVG renderer measures it
    (:meth:`matplotlib.textpath.TextToPath.get_text_width_height_descent`, independent of the
    renderer instance and of the dpi: the SVG is drawn at 72 dpi)."""
    return _TEXT_TO_PATH.get_text_width_height_descent(text, prop, ismath)


_FONT_TABLES = (("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"), ("hhea", "lineGap", "ascent", "descent"))


@lru_cache(maxsize=256)
def _font_height_metrics(prop) -> tuple:
    """``(ascent, descent, line gap)`` in points of the font ``prop`` selects, from its OS/2 or hhea
    table: what ``matplotlib.text.Text._get_layout`` reads from the font file for every text it lays
    out (and again at each layout and draw), computed once per font and size. The SVG is drawn at
    72 dpi, so points are its pixels. ``(None, None, None)``: the font has neither table, and
    matplotlib measures the text instead, as it would."""
    font = get_font(fontManager._find_fonts_by_props(prop))
    for table_name, gap_key, ascent_key, descent_key in _FONT_TABLES:
        table = font.get_sfnt_table(table_name)
        if table is None:
            continue
        # matplotlib's own expression, 1 / unitsPerEm x size x dpi / 72, at the SVG's 72 dpi: kept term
        # for term, so the result is the same float as the one matplotlib computes
        scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * prop.get_size_in_points() * 72 / 72
        return table[ascent_key] * scale, -table[descent_key] * scale, table[gap_key] * scale
    return None, None, None


class CachedMetricsRendererSVG(RendererSVG):
    """matplotlib's SVG renderer with its text metrics kept for the process (:func:`_text_metrics`,
    :func:`_font_height_metrics`)."""

    def get_text_width_height_descent(self, s, prop, ismath):
        # FontProperties hash by value; a copy keeps the key from changing with the caller's object
        return _text_metrics(s, prop.copy(), ismath)

    def _get_font_height_metrics(self, prop):
        # the hook Text._get_layout asks a renderer for before it opens the font file itself
        return _font_height_metrics(prop.copy())


class FigureCanvas(FigureCanvasSVG):
    """The SVG canvas: draws with one :class:`CachedMetricsRendererSVG`, which is also the
    renderer the figure's layout measures with (``get_renderer``)."""

    _renderer = None

    def get_renderer(self):
        """The renderer of the draw in progress (a layout engine asks for it)."""
        if self._renderer is None:
            raise RuntimeError("the SVG canvas has a renderer only while it draws (use savefig)")
        return self._renderer

    def print_svg(self, filename, *, layout=None, bbox_inches_restore=None, metadata=None, dpi=None, facecolor=None,
                  edgecolor=None, orientation=None):
        """As :meth:`matplotlib.backends.backend_svg.FigureCanvasSVG.print_svg`, with the cached
        renderer, which is the canvas' renderer for the draw.

        ``layout``: a layout engine (:class:`analysis.plots.ChartLayout`) to apply with that renderer
        just before the draw, for a figure given none of its own (with one, ``savefig`` would draw
        the figure an extra time to lay it out). ``dpi``, ``facecolor``, ``edgecolor`` and
        ``orientation`` are what ``savefig`` passes every backend: it has applied the colours and
        dpi to the figure already, and an SVG has no orientation."""
        with cbook.open_file_cm(filename, "w", encoding="utf-8") as fh:
            if not cbook.file_requires_unicode(fh):
                fh = codecs.getwriter("utf-8")(fh)
            dpi = self.figure.dpi
            self.figure.dpi = 72
            width, height = self.figure.get_size_inches()
            renderer = MixedModeRenderer(self.figure, width, height, dpi,
                                         CachedMetricsRendererSVG(width * 72, height * 72, fh, image_dpi=dpi, metadata=metadata),
                                         bbox_inches_restore=bbox_inches_restore)
            self._renderer = renderer
            try:
                if layout is not None and self.figure.axes:
                    layout.execute(self.figure)
                self.figure.draw(renderer)
            finally:
                self._renderer = None
            renderer.finalize()
