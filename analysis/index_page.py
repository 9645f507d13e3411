"""Today's index page (a build record per scenario), kept apart from the runner's execution code.

:func:`analysis.runner.render_index` prefers ``analysis.report.brief.render_index`` (the board
brief) when that module exists and falls back to this one.
"""
from __future__ import annotations

import html
from pathlib import Path

START_HERE = "01_executive_summary"   # linked first in the index, per scenario


def _compact(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    magnitude = abs(value)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if magnitude >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:,.0f}" if magnitude >= 1e4 else f"{value:.3g}"


def _metric_text(metrics: dict, limit: int = 4) -> str:
    return "; ".join(f"{key} = {_compact(value)}" for key, value in list(metrics.items())[:limit])


def _href(r: dict, key: str = "html") -> str | None:
    explicit = r.get("href" if key == "html" else "ipynb_href")
    if explicit:
        return explicit
    name = r.get(key)
    return None if not name else (f"{r['scenario']}/{name}" if r.get("scenario") else name)


def _rows(reports: list[dict]) -> str:
    esc = html.escape
    rows = []
    for r in reports:
        label = esc(Path(r["notebook"]).stem) + (f'<br><span class="meta">{esc(r["title"])}</span>' if r.get("title") else "")
        link = f'<a href="{esc(_href(r))}">{label}</a>' if r.get("status") == "ok" and _href(r) else label
        nb = _href(r, "ipynb")
        nb_link = f' (<a href="{esc(nb)}">ipynb</a>)' if nb else ""
        status = '<span class="ok">ok</span>' if r["status"] == "ok" else '<span class="failed">FAILED</span>'
        detail = esc(r.get("error") or "") if r["status"] != "ok" else esc(_metric_text(r.get("metrics") or {}))
        rows.append(f"<tr><td>{link}{nb_link}</td><td>{status}</td><td>{float(r.get('seconds') or 0):.1f} s</td><td>{detail}</td></tr>")
    return ("<table><thead><tr><th>report</th><th>status</th><th>run time</th><th>headline / error</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def render_index(records: list[dict], manifest: dict) -> str:
    """The index page: one table per scenario (and one for batch-wide reports); no scripts, nothing remote."""
    esc = html.escape
    failed = sum(r["status"] != "ok" for r in records)
    sections = []
    shared = [r for r in records if not r.get("scenario")]
    if shared:
        sections.append("<h2 id=\"all-scenarios\">Across scenarios</h2>" + _rows(shared))
    for name, info in manifest.get("scenarios", {}).items():
        mine = [r for r in records if r.get("scenario") == name]
        if not mine:
            continue
        exports = manifest.get("exports", {}).get(name, [])
        files = " ".join(f'<a href="{esc(name)}/{esc(f)}">{esc(f)}</a>' for f in exports)
        sections.append(f'<h2 id="{esc(name)}">{esc(name)}</h2><p>{esc(info.get("title", ""))}</p>'
                        f'<p class="hash">cluster <code>{esc(info.get("cluster", ""))}</code>, scenario hash '
                        f'<code>{esc(info.get("hash", ""))}</code>{"; exports: " + files if files else ""}</p>' + _rows(mine))
    summary = f"{len(records) - failed} of {len(records)} reports ok" + (f", <span class='failed'>{failed} FAILED</span>" if failed else "")
    batch = manifest.get("batch", {})
    if batch and not batch.get("complete"):
        summary += f" (batch in progress or interrupted: {batch.get('finished', 0)} of {batch.get('reports', 0)} finished)"
    elif manifest.get("last_batch_seconds") is not None:
        summary += f"; batch time {manifest['last_batch_seconds']:.0f} s"
    starts = [f'<li><a href="{esc(_href(r))}">{esc(r["scenario"])}</a>: '
              f'{esc(manifest.get("scenarios", {}).get(r["scenario"], {}).get("title", ""))}</li>'
              for r in records if r.get("status") == "ok" and r.get("scenario") and Path(r["notebook"]).stem == START_HERE]
    start_here = f"<h2>Start here: the executive summary of each scenario</h2><ul>{''.join(starts)}</ul>" if starts else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cluster economics reports</title>
<style>
body {{ font-family: sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1.5em; font-size: 0.92em; display: block; overflow-x: auto; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.35em 0.6em; text-align: left; vertical-align: top; }}
.ok {{ color: #1b7f3b; font-weight: bold; }} .failed {{ color: #b00020; font-weight: bold; }}
.hash, .meta {{ color: #666; font-size: 0.85em; }}
</style></head><body>
<h1>Cluster economics reports</h1>
<p>{summary}. Generated {esc(str(manifest.get('generated_utc', '')))} from commit <code>{esc(str(manifest.get('commit')))}</code>.
Machine-readable manifest: <a href="manifest.json">manifest.json</a>.</p>
{start_here}
{''.join(sections)}
</body></html>
"""
