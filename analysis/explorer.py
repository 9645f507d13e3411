"""Live explorer for JupyterLab: sliders for the main drivers, redrawn waterfall and NPV comparison.

``analysis.explore("colossus1")`` shows ipywidgets sliders (global batch, largest job, failure
rate, restart time, lease fee, allocation, exit threshold: whichever of them the scenario has)
and redraws, as they move, the utilization waterfall of the scenario's job and the NPV of each
option. Each redraw is one point estimate of the vectorized chain (grids cached after the first
call), so it stays well under a second. The explorer is for the lab, not a report: the batch
never executes ``notebooks/explore.ipynb``.

:func:`compute` is the update function (a scenario mapping plus slider values in, figures out),
testable without a browser; :class:`Explorer` only wires widgets to it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from analysis.errors import InputError


@dataclass(frozen=True)
class Control:
    """One slider (or drop-down, when ``choices``) bound to a scenario key path."""

    path: str
    label: str
    log: bool = False                  # logarithmic slider (batch, job size)
    choices: tuple = ()


# The main drivers of the two questions (issue 14). A control whose parameter the scenario does
# not have (a renamed or removed key) is left out, so the explorer never offers a dead slider.
CONTROLS = (
    Control("job.global_batch_tokens", "Global batch (tokens; fixed batch policy)", log=True),
    Control("job.critical_batch_multiplier", "Global batch (x the critical batch of the job's size)", log=True),
    Control("job.max_job_gpus", "Largest synchronous job (GPUs)", log=True),
    Control("goodput.interruption_rate_per_gpu_hour", "Interruptions per GPU-hour", log=True),
    Control("goodput.restart_s", "Job re-initialization at 16,384 GPUs (s)"),
    Control("economics.lease_usd_per_month_s1", "S-1 lease fee ($ per month)"),
    Control("economics.lease_allocation", "Fee allocation to the leased cluster"),
    Control("economics.exit_premium_threshold", "Lessee exits when the contract premium over market rent grows by"),
)


def available_controls(sc) -> list[tuple[Control, object]]:
    """``[(control, Param)]`` for the controls this scenario has, with their sourced ranges."""
    out = []
    # the batch follows one policy: offer the slider of the policy the scenario uses
    fixed = sc.params.get("job", {}).get("batch_policy") is None or sc.value("job.batch_policy") == "fixed"
    dead = "job.critical_batch_multiplier" if fixed else "job.global_batch_tokens"
    for control in CONTROLS:
        if control.path == dead:
            continue
        section, _, key = control.path.partition(".")
        param = sc.params.get(section, {}).get(key)
        if param is None:
            continue
        if isinstance(param.value, str):
            from analysis.scenario import section_specs
            choices = section_specs()[section][key].choices or (param.value,)
            out.append((Control(control.path, control.label, choices=tuple(choices)), param))
        else:
            out.append((control, param))
    return out


def slider_range(param, log: bool) -> tuple[float, float]:
    """Slider ends: the parameter's sourced range widened by half on each side (x/÷2 for log sliders)."""
    value = float(param.value)
    low = float(param.low) if param.low is not None else value
    high = float(param.high) if param.high is not None else value
    if log:
        return max(low / 2, 1e-12), max(high * 2, low / 2 * 1.01)
    span = (high - low) or abs(value) or 1.0
    return low - span / 2, high + span / 2


@dataclass
class ExplorerView:
    """What one redraw shows: the job's utilization factors and the NPV of each option."""

    values: dict
    utilization: float
    denominator: str
    factors: dict
    npv_usd: dict
    best_option: str
    seconds: float
    figure: object = field(default=None, repr=False)


def compute(doc: dict, values: dict | None = None, draw: bool = True) -> ExplorerView:
    """One redraw: the scenario mapping ``doc`` with ``values`` (``{"section.key": value}``) set,
    evaluated at its central values. Bad values raise :class:`InputError` like a scenario file."""
    from analysis import economics, utilization
    from analysis.scenario import parse_scenario
    from analysis.sweep import apply_overrides

    start = time.perf_counter()
    values = dict(values or {})
    sc = parse_scenario(apply_overrides(doc, values))
    point = utilization.point(sc)
    factors = utilization.group_factors(point.factors)
    options = economics.from_scenario(sc, utilization_by_option=economics.modelled_utilization(sc)).to_dict()
    npv = {k: float(v) for k, v in options["npv_usd"].items()}
    view = ExplorerView(values, float(point.value), point.denominator, factors, npv, str(options["best_option"]),
                        0.0)
    if draw:
        view.figure = figure(view, sc.title)
    view.seconds = time.perf_counter() - start
    return view


def figure(view: ExplorerView, title: str = ""):
    """The utilization waterfall (left) and the NPV of each option (right)."""
    import matplotlib.pyplot as plt

    from analysis import plots
    from analysis.report.format import pct, usd
    from analysis.report.labels import label

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.5, 1]})
    plots.waterfall(view.factors, start_label=f"{view.denominator} peak", end_label="useful", ax=left,
                    title=f"Utilization {pct(view.utilization)} of the {view.denominator} peak")
    names = list(view.npv_usd)
    amounts = np.array([view.npv_usd[n] for n in names]) / 1e9
    colours = ["tab:green" if n == view.best_option else "0.6" for n in names]
    right.barh([label(n) for n in names], amounts, color=colours)
    for y, (n, a) in enumerate(zip(names, amounts)):
        right.text(a, y, f" {usd(view.npv_usd[n])}", va="center", fontsize=10)
    right.axvline(0, color="k", lw=0.8)
    right.set_xlabel("NPV ($ billions)")
    right.set_title("NPV of each option (best in green)")
    fig.suptitle(title, fontsize=12)
    plots.lay_out(fig)
    plt.close(fig)   # shown by the explorer's output widget, not by the inline backend twice
    return fig


class Explorer:
    """ipywidgets sliders wired to :func:`compute`; display it in JupyterLab."""

    def __init__(self, scenario: str):
        import ipywidgets as widgets

        from analysis.scenario import load_scenario
        from analysis.sweep import base_document

        self.scenario = load_scenario(scenario)
        self.doc = base_document(scenario)
        self.controls = {}
        for control, param in available_controls(self.scenario):
            if control.choices:
                w = widgets.Dropdown(options=list(control.choices), value=param.value, description="")
            elif control.log:
                low, high = slider_range(param, True)
                w = widgets.FloatLogSlider(value=float(param.value), base=10, min=np.log10(low), max=np.log10(high),
                                           step=0.05, continuous_update=False, readout_format=".3g")
            else:
                low, high = slider_range(param, False)
                w = widgets.FloatSlider(value=float(param.value), min=low, max=high, step=(high - low) / 100,
                                        continuous_update=False, readout_format=".3g")
            w.observe(self._changed, names="value")
            self.controls[control.path] = (control, w)
        self.output = widgets.Output()
        self.status = widgets.HTML()
        rows = [widgets.HBox([widgets.Label(c.label, layout=widgets.Layout(width="320px")), w])
                for c, w in self.controls.values()]
        self.widget = widgets.VBox([*rows, self.status, self.output])
        self.view = None
        self._changed()

    def values(self) -> dict:
        return {path: w.value for path, (_, w) in self.controls.items()}

    def _changed(self, *_):
        from IPython.display import display
        try:
            self.view = compute(self.doc, self.values())
        except InputError as exc:
            self.status.value = f"<b>Not evaluated:</b> {exc}"
            return
        self.status.value = f"Redrawn in {self.view.seconds:.2f} s"
        self.output.clear_output(wait=True)
        with self.output:
            display(self.view.figure)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


def explore(scenario: str = "colossus1") -> Explorer:
    """Sliders for the main drivers of ``scenario`` with a live waterfall and NPV comparison."""
    return Explorer(scenario)


def benchmark(seconds: float = 1.5) -> dict[str, float]:
    """Explorer redraw time (compute and draw one view, grids warm), as redraws per second."""
    from analysis.bench import throughput
    from analysis.sweep import base_document
    doc = base_document("colossus1")
    # a new batch at every redraw, as a slider moves: a repeated one would be served by the model's memo
    batches = (16e6 + 1e5 * i for i in __import__("itertools").count())
    return {"explore: redraws/s (colossus1, compute + draw)":
            throughput(lambda: compute(doc, {"job.global_batch_tokens": next(batches)}), seconds)}
