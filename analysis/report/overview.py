"""Views of notebook ``00_cluster_overview``: what the scenario's cluster is made of.

Every figure comes from the cluster file and ``data/gpus.csv`` (via :mod:`analysis.catalog`);
every user string (cluster and pool names, sources) is escaped; every number goes through
:mod:`analysis.report.format`.
"""
from __future__ import annotations

from dataclasses import dataclass

from analysis.report import format as F
from analysis.report.labels import register

register({
    "peak_eflops_bf16_dense": "Peak BF16 dense (EFLOPS)", "peak_eflops_fp8_dense": "Peak FP8 dense (EFLOPS)",
    "hbm_pb": "HBM (PB)", "gpu_tdp_mw": "GPU TDP (MW)", "system_nameplate_mw": "Server/rack nameplate IT power (MW)",
    "nvlink_domain_gpus": "NVLink domain (GPUs)", "scale_out_gb_s_per_gpu": "Scale-out bandwidth (GB/s per GPU)",
    "count_source": "Source of the count", "gpu": "GPU",
    "name": "Name", "bf16_tflops_dense": "BF16 dense (TFLOPS)", "fp8_tflops_dense": "FP8 dense (TFLOPS)",
    "fp4_tflops_dense": "FP4 dense (TFLOPS)", "hbm_gb": "HBM (GB)", "hbm_tb_s": "HBM bandwidth (TB/s)",
    "nvlink_gb_s_per_gpu": "NVLink (GB/s per GPU)", "tdp_w": "TDP (W)", "system": "System",
    "system_power_kw": "System power (kW)", "price_usd_low": "Price, low ($)", "price_usd_central": "Price, central ($)",
    "price_usd_high": "Price, high ($)", "price_source": "Source of the price",
})

_POOL_FORMATS = {"gpus": "integer", "peak_eflops_bf16_dense": "number", "peak_eflops_fp8_dense": "number",
                 "hbm_pb": "number", "gpu_tdp_mw": "number", "system_nameplate_mw": "number",
                 "nvlink_domain_gpus": "integer", "scale_out_gb_s_per_gpu": "number", "count_source": "link",
                 "pool": "text", "gpu": "text"}
_GPU_FORMATS = {"name": "text", "bf16_tflops_dense": "number", "fp8_tflops_dense": "number", "fp4_tflops_dense": "number",
                "hbm_gb": "integer", "hbm_tb_s": "number", "nvlink_gb_s_per_gpu": "integer", "nvlink_domain_gpus": "integer",
                "tdp_w": "integer", "system": "text", "system_power_kw": "number", "source": "link", "source_date": "text",
                "price_usd_low": "usd", "price_usd_central": "usd", "price_usd_high": "usd", "price_source": "link"}


@dataclass(repr=False)
class ClusterOverview(F.ResultView):
    """The scenario's cluster by pool: ``answer()`` (Markdown), ``pool_chart()``, ``pool_table()``,
    ``gpu_table()``, ``price_table()``, ``metrics()`` (what the notebook records)."""

    sc: object

    def caption(self) -> str:
        return f"Cluster overview: {self.cluster.name}"

    @property
    def cluster(self):
        return self.sc.cluster

    def _pools(self):
        return self.cluster.summary()

    def totals(self) -> dict:
        return self.cluster.totals()

    def metrics(self) -> dict:
        t = self.totals()
        return {k: t[k] for k in ("gpus", "peak_eflops_bf16_dense", "peak_eflops_fp8_dense", "system_nameplate_mw")}

    def answer(self) -> str:
        c, t = self.cluster, self.totals()
        pools = ", ".join(f"{F.integer(p.gpus)} {F.escape_md(p.gpu.id)}" for p in c.pools)
        text = (f"**{F.escape_md(c.name)}**: {F.integer(t['gpus'])} GPUs in {len(c.pools)} pool(s) ({pools}). "
                f"Peak dense compute **{F.number(t['peak_eflops_bf16_dense'])} EFLOPS BF16** "
                f"({F.number(t['peak_eflops_fp8_dense'])} EFLOPS FP8), {F.number(t['hbm_pb'])} PB of HBM, "
                f"{F.mw(t['gpu_tdp_mw'])} of GPU TDP and {F.mw(t['system_nameplate_mw'])} of server/rack nameplate IT power")
        site = getattr(c, "site_power_mw", None)
        text += f" against a reported site power of {F.mw(site.value)}." if site else "; no site power is reported for it."
        return text

    def pool_chart(self):
        from analysis import plots

        fig = plots.pool_bars(self._pools(), {"gpus": "GPUs", "peak_eflops_bf16_dense": "peak EFLOPS (BF16 dense)",
                                              "hbm_pb": "HBM (PB)", "system_nameplate_mw": "nameplate IT power (MW)"},
                              title=f"{self.cluster.name} by pool")
        t = self.totals()
        return _alt(fig, f"Bar charts by pool of {self.cluster.name}: {F.integer(t['gpus'])} GPUs, "
                         f"{F.number(t['peak_eflops_bf16_dense'])} EFLOPS BF16 dense peak, {F.number(t['hbm_pb'])} PB HBM, "
                         f"{F.mw(t['system_nameplate_mw'])} nameplate IT power in total")

    def pool_table(self):
        pools = self._pools().set_index("pool")
        return F.table(pools, _POOL_FORMATS, caption=f"Pools of {self.cluster.name}", label_index=False)

    def gpu_table(self):
        from analysis import catalog

        columns = ["name", "bf16_tflops_dense", "fp8_tflops_dense", "fp4_tflops_dense", "hbm_gb", "hbm_tb_s",
                   "nvlink_gb_s_per_gpu", "nvlink_domain_gpus", "tdp_w", "system", "system_power_kw", "source", "source_date"]
        gpus = catalog.load_gpus().loc[[p.gpu.id for p in self.cluster.pools]]
        return F.table(gpus[[c for c in columns if c in gpus.columns]], _GPU_FORMATS, index_label="GPU", label_index=False)

    def price_table(self):
        from analysis import catalog

        columns = ["price_usd_low", "price_usd_central", "price_usd_high", "price_source"]
        gpus = catalog.load_gpus().loc[[p.gpu.id for p in self.cluster.pools]]
        return F.table(gpus[[c for c in columns if c in gpus.columns]], _GPU_FORMATS, index_label="GPU", label_index=False)

    def description(self) -> str:
        return F.escape_md(self.cluster.description or "")


def _alt(fig, text: str):
    from analysis.notebook import set_alt
    return set_alt(fig, text)


def cluster_overview(sc) -> ClusterOverview:
    return ClusterOverview(sc)
