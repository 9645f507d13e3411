"""Views of notebook ``30_power``: how many megawatts the scenario's cluster draws.

The headline figures (facility and IT power, the utilization behind energy per useful exaFLOP)
come from the scenario's one :class:`~analysis.evaluate.EvaluateResult`
(:func:`analysis.results.scenario_results`); the sweeps and the Monte Carlo band of the power
parameters are views of the same model functions. Titles and sentences name the cluster.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.report import format as F
from analysis.report.labels import register

register({
    "mw": "Power (MW)", "vs_site": "Against the reported site power", "estimate": "Estimate",
    "gpu_mw": "GPUs (MW)", "host_mw": "Hosts (MW)", "network_mw": "Scale-out network (MW)", "storage_mw": "Storage (MW)",
    "it_w_per_gpu": "IT power per GPU at load (W)", "it_nameplate_w_per_gpu": "IT nameplate per GPU (W)",
    "facility_nameplate_mw": "Facility at nameplate (MW)", "epoch_method_mw": "Epoch AI method (MW)",
    "epoch_to_bottom_up_nameplate": "Epoch AI / bottom-up nameplate", "stall_swing_mw": "Swing when the job stalls (MW)",
    "item": "Item", "kind": "Kind", "system_gpus": "GPUs per system",
})
LLAMA3_CLUSTER = "llama3-16k"       # the published reference for the power swing (Llama 3, Sec. 3.3.4)
LLAMA3_REFERENCE = "Llama 3 405B: 41% MFU x 90% ETTR"


def _alt(fig, text):
    from analysis.notebook import set_alt
    return set_alt(fig, text)


@dataclass(repr=False)
class PowerView(F.ResultView):
    """Tables, charts and sentences of the power report for one scenario."""

    sc: object
    result: object           # EvaluateResult of the scenario
    quick: bool = False

    def caption(self) -> str:
        return f"Power of {self.name}"

    @property
    def pw(self):
        return self.result.details["power"]

    @property
    def values(self) -> dict:
        return self.sc.values("power")

    @property
    def name(self) -> str:
        return self.sc.cluster.name

    @property
    def utilization_bf16(self) -> float:
        """The scenario's modelled utilization as a fraction of the BF16 dense peak (from the results)."""
        point = self.result.details.get("utilization")
        if point is not None and hasattr(point, "value_bf16_dense"):
            return float(point.value_bf16_dense)
        u = self.result.to_dict()["utilization"]
        return float(u["value"] if u["denominator"] == "bf16 dense" else u.get("value_bf16_dense", np.nan))

    # ------------------------------------------------------------------ answer first
    def answer(self) -> str:
        d, site = self.pw.to_dict(), self.pw.site_power_mw
        text = (f"**{F.escape_md(self.name)}** draws about **{F.mw(d['facility_mw'])}** at the facility meter while training "
                f"({F.mw(d['it_mw'])} of IT power × PUE {F.number(d['pue'])}); {F.mw(d['facility_nameplate_mw'])} if every "
                f"server ran at its nameplate maximum, and {F.mw(d['epoch_method_mw'])} by Epoch AI's TDP × 1.82 × PUE.")
        if site is not None:
            text += f" The site reports **{F.mw(site)}**: the modelled draw is {F.number(d['facility_to_site'])} times that."
        else:
            text += " No site power is reported for this cluster, so there is nothing to compare the estimates with."
        return text

    def metrics(self) -> dict:
        d, u = self.pw.to_dict(), self.utilization_bf16
        return {"facility_mw": d["facility_mw"], "it_mw": d["it_mw"], "facility_nameplate_mw": d["facility_nameplate_mw"],
                "epoch_method_mw": d["epoch_method_mw"], "gpu_tdp_mw": d["gpu_tdp_mw"], "site_power_mw": self.pw.site_power_mw,
                "facility_to_site": d["facility_to_site"], "stall_swing_mw": d["stall_swing_mw"], "utilization_bf16": u,
                "energy_mwh_per_useful_exaflop": float(self.pw.energy_mwh_per_useful_exaflop(u))}

    def estimates_chart(self, band=None, drop_at_load: bool = False, title: str | None = None):
        from analysis import plots

        gap = self.pw.gap_table()["mw"]
        if drop_at_load:
            gap = gap.drop(index="bottom-up at training load x PUE")
        site = self.pw.site_power_mw
        fig = plots.estimate_bars(gap, "MW", title=title or f"Power estimates for {self.name}",
                                  reference=None if site is None else ("reported site power", site), band=band)
        return _alt(fig, f"Horizontal bars of {len(gap)} power estimates for {self.name}: "
                         + "; ".join(f"{k} {F.mw(v)}" for k, v in gap.items())
                         + ("" if site is None else f"; dashed line at the reported site power, {F.mw(site)}")
                         + ("" if band is None else f"; shaded Monte Carlo 90% interval {F.mw(band[0])} to {F.mw(band[1])}"))

    def gap_explanation(self) -> str:
        from analysis import power
        return power.explain_site_gap(self.pw)

    def gap_table(self):
        gap = self.pw.gap_table()
        return F.table(gap, {"mw": "mw", "vs_site": "signed_pct"}, label_index=False)

    def site_table(self):
        """The reported items behind the site figure, with sources (Markdown when there are none)."""
        from analysis import power
        from analysis.notebook import Markdown
        rows = power.load_site_power(self.sc.cluster.id)
        if not len(rows):
            return Markdown(f"No site power items are reported for {F.escape_md(self.name)}.")
        return F.table(rows[["item", "mw", "kind", "source", "date"]], {"item": "text", "kind": "text", "date": "text",
                                                                        "mw": "mw", "source": "link"}, index=False)

    # ------------------------------------------------------------------ by pool
    def breakdown_chart(self):
        from analysis import plots
        fig = plots.stacked_bars(self.pw.by_pool, "pool", {"gpu_mw": "GPUs", "host_mw": "host (CPU, memory, NIC, fans, NVSwitch)",
                                                           "network_mw": "scale-out network", "storage_mw": "storage"},
                                 ylabel="IT power at training load (MW)", title=f"IT power by pool, {self.name}")
        return _alt(fig, f"Stacked bars of IT power at training load by pool of {self.name}: "
                         + "; ".join(f"{r.pool} {F.mw(r.it_mw)}" for r in self.pw.by_pool.itertuples()))

    def breakdown_table(self):
        cols = ["gpus", "gpu_mw", "host_mw", "network_mw", "storage_mw", "it_mw", "it_w_per_gpu", "it_nameplate_w_per_gpu",
                "facility_mw"]
        frame = self.pw.by_pool.set_index("pool")[cols]
        return F.table(frame, {"it_w_per_gpu": "integer", "it_nameplate_w_per_gpu": "integer"}, label_index=False)

    def epoch_chart(self):
        from analysis import plots
        fig = plots.pool_bars(self.pw.by_pool, {"facility_mw": "bottom-up at load (MW)",
                                                "facility_nameplate_mw": "bottom-up nameplate (MW)",
                                                "epoch_method_mw": "Epoch AI method (MW)"},
                              title=f"Facility power by pool, bottom-up vs Epoch AI: {self.name}")
        return _alt(fig, f"Bars by pool of {self.name}: facility power bottom-up at load, at nameplate, and by Epoch AI's method")

    def epoch_table(self):
        frame = self.pw.by_pool.set_index("pool")[["facility_mw", "facility_nameplate_mw", "epoch_method_mw",
                                                    "epoch_to_bottom_up_nameplate"]]
        return F.table(frame, {"epoch_to_bottom_up_nameplate": F.factor}, label_index=False)

    # ------------------------------------------------------------------ against load
    def load_chart(self):
        from analysis import plots, power
        n_grid = 12 if self.quick else 91
        sweep = power.power_vs_load(self.sc.cluster, self.values, np.linspace(0, 1, n_grid))
        v = self.values
        fig = plots.stacked_area(sweep["load_fraction"], {"GPUs": sweep["gpu_mw"], "host": sweep["host_mw"],
                                                          "network": sweep["network_mw"], "storage": sweep["storage_mw"]},
                                 xlabel="GPU load (0 = idle, 1 = TDP)", ylabel="IT power (MW)",
                                 title=f"IT power vs GPU load, {self.name} (facility = IT × PUE {F.number(v['pue'])})",
                                 vlines={"scenario training load": v["gpu_load_fraction"]})
        return _alt(fig, f"Stacked areas of IT power of {self.name} from all GPUs idle ({F.mw(sweep['it_mw'].iloc[0])}) to "
                         f"all at TDP ({F.mw(sweep['it_mw'].iloc[-1])}); dotted line at the training load "
                         f"{F.number(v['gpu_load_fraction'])}")

    # ------------------------------------------------------------------ stall swing
    def stall_text(self) -> str:
        from analysis import power
        from analysis.catalog import load_cluster
        d = self.pw.to_dict()
        parts = ", ".join(f"{F.escape_md(r.pool)} {F.mw(r.stall_swing_mw)}" for r in self.pw.by_pool.itertuples())
        text = (f"Stalling the whole of {F.escape_md(self.name)} drops GPU power by about **{F.mw(d['stall_swing_mw'])}** in "
                f"seconds ({parts}).")
        if self.sc.cluster.id != LLAMA3_CLUSTER:
            llama = power.cluster_power(load_cluster(LLAMA3_CLUSTER), self.values)
            text += (f" The same model on Meta's 16,384-GPU Llama 3 job gives {F.mw(llama.stall_swing_mw)} from GPUs alone, "
                     f"the same order as the reported tens of megawatts across Meta's data center.")
        else:
            text += " Meta reports swings of tens of megawatts across the data center: the same order."
        return text

    def stall_table(self):
        return F.table(self.pw.by_pool.set_index("pool")[["gpus", "stall_swing_mw"]], label_index=False)

    # ------------------------------------------------------------------ energy per useful exaFLOP
    def references(self):
        from analysis import power
        return power.load_utilization_references()

    def energy_chart(self):
        from analysis import plots
        n_grid = 12 if self.quick else 91
        grid = np.linspace(0.05, 0.5, n_grid)
        u, refs = self.utilization_bf16, self.references()
        fig = plots.utilization_curve(grid, {f"{self.name}: facility energy": self.pw.energy_mwh_per_useful_exaflop(grid)},
                                      ylabel="MWh per useful exaFLOP", title=f"Energy per useful exaFLOP, {self.name}",
                                      marks={f"modelled utilization ({F.pct(u)})": (u, self.pw.energy_mwh_per_useful_exaflop(u))},
                                      references={f"{r.label} (observation)": r.utilization for r in refs.itertuples()})
        return _alt(fig, f"Line: facility energy per useful exaFLOP of {self.name} falls as 1/utilization from 5% to 50% of "
                         f"the BF16 dense peak; the modelled {F.pct(u)} gives "
                         f"{F.number(float(self.pw.energy_mwh_per_useful_exaflop(u)))} MWh; dashed lines mark "
                         f"{len(refs)} published utilizations")

    def energy_text(self) -> str:
        u, refs = self.utilization_bf16, self.references()
        e = float(self.pw.energy_mwh_per_useful_exaflop(u))
        text = (f"At the modelled {F.pct(u)} of BF16 dense peak, each useful exaFLOP costs **{F.number(e)} MWh** of "
                f"facility energy")
        if LLAMA3_REFERENCE in refs.index:
            ref = float(refs.loc[LLAMA3_REFERENCE, "utilization"])
            text += (f"; at the Llama 3 reference ({F.pct(ref)}) it would be "
                     f"{F.number(float(self.pw.energy_mwh_per_useful_exaflop(ref)))} MWh")
        return text + "."

    def references_table(self):
        return references_table(self.references())

    # ------------------------------------------------------------------ uncertainty
    def monte_carlo(self, seed: int = 0):
        """5th, 50th and 95th percentile of facility power over the scenario's one draw set (the
        draws of its results; ``seed`` only when the results carry none)."""
        if getattr(self, "_mc", None) is None:
            from analysis import power
            from analysis.scenario import section_draws
            draws = self.result.details.get("draws")
            if draws is None:
                draws = self.sc.sample(200 if self.quick else 5000, seed=seed)
            mc = power.cluster_power(self.sc.cluster, section_draws(draws, "power"))
            object.__setattr__(self, "_mc", (int(draws.n), np.quantile(mc.facility_mw, [0.05, 0.5, 0.95])))
        return self._mc

    def uncertainty_text(self) -> str:
        n, q = self.monte_carlo()
        return (f"Facility power of {F.escape_md(self.name)} at training load: median **{F.mw(q[1])}**, 90% interval "
                f"{F.mw(q[0])} to {F.mw(q[2])} ({F.integer(n)} draws).")

    def uncertainty_chart(self):
        _, q = self.monte_carlo()
        return self.estimates_chart(band=(q[0], q[2]), drop_at_load=True,
                                    title=f"Other estimates against the Monte Carlo 90% interval (shaded), {self.name}")

    def gpu_table(self):
        from analysis.catalog import load_gpus
        gpus = load_gpus().loc[[p.gpu.id for p in self.sc.cluster.pools], ["tdp_w", "system", "system_gpus",
                                                                            "system_power_kw", "source"]]
        return F.table(gpus, {"tdp_w": "integer", "system": "text", "system_gpus": "integer", "system_power_kw": "number"},
                       index_label="GPU", label_index=False)


def power_view(sc, quick: bool = False, scenario: str | None = None) -> PowerView:
    """The power report's view of scenario ``sc`` over its one set of results (``scenario``: the
    name or file the notebook was given, the key of :func:`analysis.results.scenario_results`)."""
    from analysis.results import scenario_results
    return PowerView(sc, scenario_results(scenario or sc.name, quick), quick)


def references_table(refs):
    """The published utilization figures (``load_utilization_references()``) with basis, source, date and confidence."""
    refs = refs.assign(confidence=refs["confidence"].map(F.confidence_name))
    return F.table(refs[["utilization", "basis", "source", "date", "confidence"]],
                   {"basis": "text", "date": "text", "confidence": "text"}, label_index=False)
