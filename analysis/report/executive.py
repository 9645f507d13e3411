"""Views of notebook ``01_executive_summary``: one page for readers who do not need the working.

Every figure is the scenario's one :class:`~analysis.evaluate.EvaluateResult`
(:func:`analysis.results.scenario_results`), formatted by :mod:`analysis.report.format`; the
sentences on why utilization is low are the board brief's (:mod:`analysis.report.brief`), so the
index and this report say the same thing. The lease-or-keep question concerns the cluster the
S-1 lease covers (Colossus 1); for another cluster the report says so in one line.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.report import brief
from analysis.report import format as F
from analysis.report.labels import label, register

LEASED_CLUSTER = "colossus1"      # the cluster of the SpaceX S-1 lease (economics.yaml: lease_usd_per_month_s1)

register({"useful_exaflops": "Useful exaFLOPs over the horizon", "usd_per_useful_exaflop": "Cost per useful exaFLOP"})


def _alt(fig, text):
    from analysis.notebook import set_alt
    return set_alt(fig, text)


@dataclass(repr=False)
class ExecutiveSummary(F.ResultView):
    sc: object
    result: object

    def caption(self) -> str:
        return f"Executive summary: {self.sc.title}"

    @property
    def d(self) -> dict:
        return self.result.to_dict()

    @property
    def cluster(self) -> str:
        return self.sc.cluster.name

    @property
    def lease_applies(self) -> bool:
        return self.sc.cluster.id == LEASED_CLUSTER

    # ------------------------------------------------------------------ answer first
    def answer(self) -> str:
        """Markdown: the utilization answer and (for the leased cluster) the lease answer."""
        from analysis.catalog import observed_utilization

        d, observed = self.d, observed_utilization()
        u = d["utilization"]
        peak = f"of the {F.escape_md(F.peak_basis(u['denominator']))} peak"
        band = f"(5-95%: {F.pct(u.get('p05'))} to {F.pct(u.get('p95'))})"
        fleet, low, high = brief.fleet_utilization(d)
        reported = f"xAI's reported {F.pct(observed['value'], 0)}"
        if fleet is not None:
            # The reported figure is an MFU over xAI's whole fleet: it is set against the fleet draws, as the
            # board brief and the utilization report do, never against one job's.
            text = (f"**Utilization.** For {F.escape_md(self.sc.title)}, the model puts xAI's whole fleet, with all its "
                    f"workloads, at **{F.pct(fleet)}** of the BF16 dense peak (5-95%: {F.pct(low)} to {F.pct(high)}) and the "
                    f"scenario's training job at {F.pct(u['value'])} {peak} {band}, without being fitted to any reported "
                    f"figure. {reported}, an MFU over the whole fleet with its peak unstated, falls at the "
                    f"{F.pct(d['fleet'].get('share_at_or_below_observed'), 0)} quantile of the fleet draws. ")
        else:
            text = (f"**Utilization.** For {F.escape_md(self.sc.title)}, the model gives **{F.pct(u['value'])}** {peak} "
                    f"{band} without being fitted to any reported figure. {reported} is an MFU over xAI's whole fleet, "
                    f"which this scenario does not model, so it is not compared here. ")
        text += brief.interruption_sentence(d)
        if self.lease_applies:
            text += "\n\n" + self.lease_answer()
        return text

    def lease_answer(self) -> str:
        if not self.lease_applies:
            return (f"**Lease or keep?** Does not apply: the question is about leasing Colossus 1 under the S-1 contract, "
                    f"and this scenario's cluster is {F.escape_md(self.cluster)}.")
        e = self.d["economics"]
        gap = e.get("npv_lease_minus_keep_usd")
        verb = "is worth" if gap is not None and gap >= 0 else "loses"
        return (f"**Lease or keep?** Leasing {F.escape_md(self.cluster)} and rebuilding the training on Colossus 2 {verb} "
                f"**{F.usd(abs(gap) if gap is not None else None)}** {'more' if verb == 'is worth' else ''} than keeping it "
                f"for training over {F.integer(e.get('horizon_months'))} months (5-95%: {F.usd(e.get('npv_lease_minus_keep_usd_p05'))} "
                f"to {F.usd(e.get('npv_lease_minus_keep_usd_p95'))}); leasing wins in {F.pct(e.get('p_lease_beats_keep'), 0)} "
                f"of draws. Keeping would match the lease only below "
                f"**{F.usd_per_gpu_hour(e.get('break_even_lease_usd_per_gpu_hour'))}**, against "
                f"{F.usd_per_gpu_hour(e.get('lease_usd_per_gpu_hour'))} implied by the S-1.")

    def metrics(self) -> dict:
        d = self.d
        u, e = d["utilization"], d.get("economics", {})
        out = {"utilization": u["value"], "utilization_p05": u.get("p05"), "utilization_p95": u.get("p95"),
               "observed_quantile": u.get("share_at_or_below_observed")}
        if self.lease_applies:
            out.update({"npv_lease_minus_keep_usd": e.get("npv_lease_minus_keep_usd"),
                        "p_lease_beats_keep": e.get("p_lease_beats_keep"),
                        "break_even_lease_usd_per_gpu_hour": e.get("break_even_lease_usd_per_gpu_hour")})
        return out

    def headlines(self):
        """The headline figures, each with its 5-95% range, unit and the report behind it."""
        heads = self.result.headlines()
        if not self.lease_applies:
            heads = heads[~heads["report"].isin(["33_lease_vs_rebuild", "32_inference"])]
        rows, outside = [], []
        for figure, r in heads.iterrows():
            if F.outside_band(F.finite(r.value), F.finite(r.p05), F.finite(r.p95)):
                outside.append(brief._lower(figure))
            value = F.number(r.value)
            span = f"{F.number(r.p05)} to {F.number(r.p95)}" if F.finite(r.p05) is not None else ""
            rows.append({"Figure": figure, "Value": value, "5-95% range": span, "Unit": r.unit,
                         "Report": f'<a href="{F.escape_html(r.report)}.html">{F.escape_html(r.report[3:].replace("_", " "))}</a>'})
        frame = pd.DataFrame(rows)
        return F.table(frame, formats={"Figure": "text", "Value": "text", "5-95% range": "text", "Unit": "text",
                                       "Report": lambda v: v}, labels=False, index=False,
                       caption=F.central_outside_note(outside) or None).with_html(["Report"])

    def observed_reference(self) -> str:
        from analysis.catalog import observed_utilization
        o = observed_utilization()
        return (f"Reported figure: {F.escape_md(o['label'])}, {F.escape_md(o['basis'])} ({F.md_link(o['source'])}, "
                f"{F.escape_md(o['date'])}). All parameters with their sources:")

    # ------------------------------------------------------------------ why utilization is low
    def why_sentences(self):
        from IPython.display import HTML
        return HTML("<p>" + " ".join(brief.why_utilization_is_low(self.sc.name, self.d)) + "</p>")

    def waterfall_chart(self):
        from analysis import plots, utilization
        u = self.d["utilization"]
        groups = utilization.group_factors(u["factors"])
        named = {label(k): v for k, v in groups.items()}
        fig = plots.waterfall(named, start_label=f"{F.peak_basis(u['denominator'])} peak", end_label="utilization",
                              title=f"{self.cluster}: losses by family")
        worst = min(groups, key=groups.get)
        return _alt(fig, f"Waterfall from 100% of the {F.peak_basis(u['denominator'])} peak to {F.pct(u['value'])} utilization on "
                         f"{self.cluster}: " + "; ".join(f"{label(k)} {F.factor(v)}" for k, v in groups.items())
                         + f". The largest loss is {label(worst).lower()}.")

    # ------------------------------------------------------------------ lease or keep
    def npv_chart(self):
        from analysis import plots
        mc = self.result.details["options_mc"]
        e = self.d["economics"]
        draws = mc.npv_draws().assign(option=lambda f: f["option"].map(label))
        fig = plots.distributions_by_group(draws, "npv_usd", "option", "NPV ($B)", scale=1e9,
                                           title=f"NPV of each option for {self.cluster} over {F.integer(mc.n_draws)} draws "
                                                 f"({F.integer(e['horizon_months'])} months)")
        q = e.get("npv_usd_quantiles", {})
        return _alt(fig, "Histograms of the NPV of each option: " + "; ".join(
            f"{label(o)} {F.usd(v.get('p05'))} to {F.usd(v.get('p95'))} (5-95%)" for o, v in q.items()))

    def options_table(self):
        t = self.result.details["options"].table()
        return F.table(t, {"description": "text", "npv_usd": "usd", "irr_annual": "irr", "useful_exaflops": "scaled",
                           "usd_per_useful_exaflop": "usd"})


def executive_summary(sc, quick: bool = False, scenario: str | None = None) -> ExecutiveSummary:
    from analysis.results import scenario_results
    return ExecutiveSummary(sc, scenario_results(scenario or sc.name, quick))
