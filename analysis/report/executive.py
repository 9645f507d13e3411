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
        u, g = d["utilization"], d["goodput"]
        text = (f"**Utilization.** For {F.escape_md(self.sc.title)}, the model gives **{F.pct(u['value'])}** of the "
                f"{F.escape_md(u['denominator'])} peak (5-95%: {F.pct(u.get('p05'))} to {F.pct(u.get('p95'))}) without being "
                f"fitted to any reported figure. ")
        if self.lease_applies:
            text += (f"xAI's reported {F.pct(observed['value'], 0)} falls at the "
                     f"{F.pct(u.get('share_at_or_below_observed'), 0)} quantile of the model's draws. ")
        else:
            text += f"xAI's reported {F.pct(observed['value'], 0)} concerns Colossus 1, not this cluster. "
        ettr = g.get("effective_training_time")
        only = "only " if ettr is not None and ettr < 0.7 else ""
        text += (f"One synchronous job on {F.integer(u.get('largest_job_gpus'))} GPUs is interrupted about "
                 f"{F.number(g.get('interruptions_per_day'), 2)} times a day, so it spends {only}"
                 f"{F.pct(ettr, 0)} of its time making progress.")
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
        rows = []
        for figure, r in heads.iterrows():
            value = F.number(r.value)
            span = f"{F.number(r.p05)} to {F.number(r.p95)}" if F.finite(r.p05) is not None else ""
            rows.append({"Figure": figure, "Value": value, "5-95% range": span, "Unit": r.unit,
                         "Report": f'<a href="{F.escape_html(r.report)}.html">{F.escape_html(r.report[3:].replace("_", " "))}</a>'})
        frame = pd.DataFrame(rows)
        return F.table(frame, formats={"Figure": "text", "Value": "text", "5-95% range": "text", "Unit": "text",
                                       "Report": lambda v: v}, labels=False, index=False).with_html(["Report"])

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
        fig = plots.waterfall(named, start_label=f"{u['denominator']} peak", end_label="utilization",
                              title=f"{self.cluster}: losses by family")
        worst = min(groups, key=groups.get)
        return _alt(fig, f"Waterfall from 100% of the {u['denominator']} peak to {F.pct(u['value'])} utilization on "
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
