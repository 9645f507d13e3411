"""Report views: the one formatter, the one label registry, and per-topic tables and figures.

Layering (DESIGN.md): data loaders -> model functions -> *views* (this package) -> notebooks.
Views take result objects from the models and return formatted ``pandas`` frames, matplotlib
figures or Markdown; they never compute a model figure themselves.

* :mod:`analysis.report.format` -- human units for every number a reader sees (``$13.3B``, ``9.0%``).
* :mod:`analysis.report.labels` -- human names and units for every parameter, factor and figure.
* one module per topic (``step``, ``goodput``, ``fleet``, ``economics``, ``inference``, ...).
"""
