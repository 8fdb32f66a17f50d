"""report.html: one self-contained page (inline CSS/JS, data-URI media, no network)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from multigen.fileio import atomic_write_text

from .gallery import data_uri, gallery_html
from .tables import domain_table, fmt, sort_key

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2430;background:#fafbfc}
header,main{max-width:1200px;margin:auto;padding:12px 20px}
header{border-bottom:1px solid #dde}
h1{font-size:22px;margin:8px 0} h2{margin-top:28px;border-bottom:2px solid #ccd}
h3{font-size:15px;margin:18px 0 6px}
nav a{margin-right:12px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:12.5px}
th,td{border:1px solid #ccd;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#eef0f5} td:first-child,th:first-child{text-align:left}
tr.data td{background:#eef7ee;font-style:italic} tr.failed td{background:#fbecec}
tr.skipped td{background:#f4f4f4;color:#777} td.status{text-align:left;max-width:320px}
.anchors th{background:#f3efe4} .anchors caption{text-align:left;font-weight:600}
.label{display:inline-block;background:#b35c00;color:#fff;border-radius:3px;padding:0 6px;
font-size:11px;margin-left:6px}
.plots img{max-width:100%;border:1px solid #dde;margin:4px 8px 4px 0;background:#fff}
.cells{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;padding:6px;border:1px solid #dde;background:#fff;max-width:360px}
figcaption{font-size:12px;color:#445;margin-bottom:4px}
img.sample{max-width:340px;image-rendering:pixelated;display:block}
canvas.geo{background:#f6f7fb;border:1px solid #dde;cursor:grab;margin:2px}
.clip span{font-size:11px;color:#667;display:block} audio{width:320px;height:32px}
.scroll{overflow-x:auto;max-width:100%}
.muted{color:#778;font-size:12px} .err{color:#a11;font-size:12px;white-space:pre-wrap}
"""

# Errors anywhere on the page are recorded on <body> (the headless test reads them back).
TRAP = """
window.__errors=[];
window.addEventListener('error',function(e){window.__errors.push(String(e.message));
 document.documentElement.setAttribute('data-js-errors',window.__errors.join(' | '));});
"""

# A tiny orthographic viewer: drag to rotate, points depth-sorted, meshes as wireframes.
VIEWER = """
(function(){
 var COL={H:'#eeeeee',C:'#555555',N:'#3050f8',O:'#ff0d0d',F:'#90e050',S:'#ffff30',
  Cl:'#1ff01f',P:'#ff8000',Br:'#a62929',I:'#940094'};
 function depth(P){return P.map(function(_,i){return i;})
  .sort(function(i,j){return P[i][2]-P[j][2];});}
 function draw(c,g,a,b){var x=c.getContext('2d'),w=c.width,h=c.height,s=0.42*Math.min(w,h);
  x.clearRect(0,0,w,h);var ca=Math.cos(a),sa=Math.sin(a),cb=Math.cos(b),sb=Math.sin(b);
  var P=g.points.map(function(p){var X=ca*p[0]+sa*p[2],Z=-sa*p[0]+ca*p[2];
   var Y=cb*p[1]-sb*Z;Z=sb*p[1]+cb*Z;return [w/2+s*X,h/2-s*Y,Z];});
  if(g.faces){x.strokeStyle='rgba(40,70,140,0.35)';x.lineWidth=0.6;x.beginPath();
   g.faces.forEach(function(f){var p=P[f[0]],q=P[f[1]],r=P[f[2]];if(!p||!q||!r)return;
    x.moveTo(p[0],p[1]);x.lineTo(q[0],q[1]);x.lineTo(r[0],r[1]);x.closePath();});x.stroke();}
  else if(g.elems){depth(P).forEach(function(i){var p=P[i],e=g.elems[i],c2=COL[e]||'#b0b';
    x.beginPath();
    x.arc(p[0],p[1],e==='H'?3:5.5,0,6.2832);x.fillStyle=c2;x.fill();x.strokeStyle='#333';
    x.lineWidth=0.6;x.stroke();});}
  else{depth(P).forEach(function(i){var p=P[i],t=(p[2]+1)/2;
    x.fillStyle='rgba('+Math.round(30+170*t)+','+Math.round(80+60*t)+',200,0.85)';
    x.fillRect(p[0]-1.2,p[1]-1.2,2.4,2.4);});}
  c.setAttribute('data-drawn','1');}
 document.querySelectorAll('canvas.geo').forEach(function(c){
  var r=JSON.parse(c.getAttribute('data-geo')),g={points:[]},i,a=0.6,b=0.35,d=null;
  for(i=0;i+2<r.p.length;i+=3)g.points.push([r.p[i],r.p[i+1],r.p[i+2]]);
  if(r.e)g.elems=r.e;
  if(r.f){g.faces=[];for(i=0;i+2<r.f.length;i+=3)g.faces.push([r.f[i],r.f[i+1],r.f[i+2]]);}
  draw(c,g,a,b);
  c.addEventListener('pointerdown',function(e){d=[e.clientX,e.clientY];c.setPointerCapture(e.pointerId);});
  c.addEventListener('pointermove',function(e){if(!d)return;a+=(e.clientX-d[0])*0.01;
   b+=(e.clientY-d[1])*0.01;d=[e.clientX,e.clientY];draw(c,g,a,b);});
  c.addEventListener('pointerup',function(){d=null;});});
 document.documentElement.setAttribute('data-ready','1');
})();
"""


def esc(x: Any) -> str:
    return html.escape(str(x))


def table_html(headers: list[str], rows: list[list[str]], kinds: list[str]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for r, k in zip(rows, kinds, strict=True):
        tds = "".join(
            f'<td class="status">{esc(v)}</td>' if i == len(r) - 1 else f"<td>{esc(v)}</td>"
            for i, v in enumerate(r)
        )
        body.append(f'<tr class="{esc(k)}">{tds}</tr>')
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def anchors_html(anchor: dict[str, Any] | None) -> str:
    if not anchor:
        return '<p class="muted">No published anchors for this domain.</p>'
    head = "".join(f"<th>{esc(c)}</th>" for c in ["model", *anchor["columns"], "note"])
    rows = []
    for r in anchor["rows"]:
        vals = "".join(f"<td>{esc(fmt(v))}</td>" for v in r["values"])
        rows.append(f"<tr><td>{esc(r['model'])}</td>{vals}<td>{esc(r.get('note', ''))}</td></tr>")
    foot = f'<p class="muted">{esc(anchor["footnote"])}</p>' if anchor.get("footnote") else ""
    return (
        f'<table class="anchors"><caption>{esc(anchor["title"])}'
        f'<span class="label">published, different data</span></caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{foot}"
    )


def summary_html(summary: dict[str, Any], domains: list[str]) -> str:
    """Domain × variant matrix: the quality metric at each variant's largest NFE."""
    variants = sorted(
        {c["variant"] for c in summary["cells"]}, key=lambda v: sort_key({"variant": v})
    )
    head = "".join(f"<th>{esc(v)}</th>" for v in ["domain", "metric", "data", *variants])
    rows = []
    for d in domains:
        metric, better = summary["quality_metric"][d]
        data = summary["data_rows"].get(d) or {}
        tds = [esc(d), esc(f"{metric} ({better})" if metric else "–")]
        tds.append(esc(fmt((data.get("metrics") or {}).get(metric))) if metric else "–")
        for v in variants:
            cells = [c for c in summary["cells"] if c["domain"] == d and c["variant"] == v]
            ok = [c for c in cells if c["status"] == "ok"]
            if ok and metric:
                top = max(ok, key=lambda c: c.get("nfe") or 0)
                tds.append(esc(f"{fmt(top['metrics'].get(metric))} @{top.get('nfe')}"))
            elif cells:
                tds.append(esc(cells[0]["status"]))
            else:
                tds.append("–")
        rows.append("<tr>" + "".join(f"<td>{t}</td>" for t in tds) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def domain_html(out: Path, d: str, summary: dict[str, Any], anchors: dict[str, Any]) -> str:
    cells = sorted([c for c in summary["cells"] if c["domain"] == d], key=sort_key)
    metric, better = summary["quality_metric"][d]
    data = summary["data_rows"].get(d)
    headers, rows, kinds = domain_table(cells, data, metric)
    parts = [f'<section id="domain-{esc(d)}" class="domain"><h2>{esc(d)}</h2>']
    if metric:
        parts.append(
            f"<p>Quality metric for the plots: <code>{esc(metric)}</code> "
            f"({esc(better)} is better). The green row is real held-out data scored "
            "against the same reference: the floor of every metric.</p>"
        )
    steps = sorted({(c.get("train") or {}).get("steps") for c in cells} - {None})
    if steps:
        parts.append(
            f"<p>Training budget: {esc(', '.join(map(str, steps)))} steps per method "
            "(each training method trained once).</p>"
        )
    if data and data.get("status") == "failed":
        parts.append(f'<p class="err">data row failed: {esc(data.get("error"))}</p>')
    parts.append(f"<h3>Results</h3>{table_html(headers, rows, kinds)}")
    plots = [out / p for p in summary["plots"].get(d, []) if (out / p).is_file()]
    if plots:
        imgs = "".join(f'<img alt="{esc(p.stem)}" src="{data_uri(p, "image/png")}">' for p in plots)
        parts.append(f'<h3>Plots</h3><div class="plots">{imgs}</div>')
    parts.append(f"<h3>Published anchors</h3>{anchors_html(anchors.get(d))}")
    figs = []
    for c in cells:
        if c["status"] != "ok":
            continue
        body = gallery_html(out, c.get("gallery") or [])
        if body:
            figs.append(
                f'<figure class="cell"><figcaption>{esc(c["variant"])} · NFE '
                f"{esc(c.get('nfe'))}</figcaption>{body}</figure>"
            )
    parts.append(
        '<h3>Samples</h3><div class="cells">'
        + ("".join(figs) or '<p class="muted">no samples</p>')
        + "</div>"
    )
    failed = [c for c in cells if c["status"] == "failed"]
    if failed:
        errs = "".join(f'<p class="err">{esc(c["id"])}: {esc(c.get("error"))}</p>' for c in failed)
        parts.append(f"<h3>Failures</h3>{errs}")
    parts.append("</section>")
    return "".join(parts)


def write_report(
    out: Path,
    summary: dict[str, Any],
    domains: list[str],
    quality: dict[str, Any],
    anchors: dict[str, Any],
) -> Path:
    m, v = summary["machine"], summary["versions"]
    nav = "".join(f'<a href="#domain-{esc(d)}">{esc(d)}</a>' for d in domains)
    vers = ", ".join(f"{k} {val}" for k, val in v.items())
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>multigen benchmark: {esc(summary["suite"])}</title>
<script>{TRAP}</script><style>{CSS}</style></head>
<body><header><h1>multigen benchmark · {esc(summary["suite"])}</h1>
<p>{esc(summary["description"])}</p>
<p class="muted">{esc(summary["created"])} · {esc(m.get("gpu") or "CPU")} ·
{esc(m["cpu_count"])} cores · load {esc(m.get("load_avg_1m", "?"))} · {esc(vers)}</p>
<nav><a href="#summary">summary</a>{nav}<a href="#protocol">protocol</a></nav></header>
<main>
<section id="summary"><h2>Summary</h2>
<p>{summary["ok"]} cells ok, {summary["failed"]} failed, {summary["skipped"]} skipped
{"(interrupted run)" if summary["interrupted"] else ""}. Each entry: the domain's quality
metric at the variant's largest NFE (the number after @).</p>
{summary_html(summary, domains)}</section>
{"".join(domain_html(out, d, summary, anchors) for d in domains)}
<section id="protocol"><h2>Protocol</h2>
<ul><li>A cell is domain × method variant × NFE. Each (domain, training method) is trained
once with the same number of steps; wall-clock training time is recorded beside it.</li>
<li>Variants: ddpm_ancestral (DDPM-trained, ancestral sampler), ddim (same model, DDIM η=0),
edm_heun (EDM-trained, Heun), dpmpp (same model, DPM-Solver++(2M)), flow (flow matching,
Euler), gan (one generator call).</li>
<li>Metrics are each domain's own, computed against its held-out test split unless the suite
names another reference. The data row scores real held-out data the same way.</li>
<li>Published anchors come from other papers on data we cannot download; they are context,
not comparable numbers.</li>
<li>Timings come from a shared machine and are noisy; compare ratios within one run.</li></ul>
</section></main>
<script>{VIEWER}</script></body></html>
"""
    path = out / "report.html"
    return atomic_write_text(path, page)
