"""A self-contained HTML icicle chart of the import tree (inline SVG + JS, no CDN)."""

from __future__ import annotations

import html
import json
from typing import Any

from perfkit.coldstart.model import ColdstartResult, TreeNode


def _node(n: TreeNode, project: set[str]) -> dict[str, Any]:
    return {
        "n": n.name,
        "s": round(n.self_ms, 3),
        "c": round(n.cumulative_ms, 3),
        "p": n.name in project,
        "k": [_node(c, project) for c in n.children],
    }


def render_html(result: ColdstartResult) -> str:
    """The page: click a bar to zoom into it, click the top bar to zoom out."""
    project = {m.name for m in result.modules if m.project}
    candidates = {c.module for c in result.candidates if (c.saving_ms or 0) > 0}
    total = sum(n.cumulative_ms for n in result.tree)
    if len(result.tree) == 1:
        root = _node(result.tree[0], project)
    else:  # several top-level imports (a package, then its module): a synthetic root
        root = {
            "n": result.module or result.target,
            "s": 0.0,
            "c": round(total, 3),
            "p": True,
            "k": [_node(n, project) for n in result.tree],
        }
    payload = json.dumps({"root": root, "lazy": sorted(candidates)}).replace("</", "<\\/")
    title = html.escape(f"cold start of {result.target}")
    subtitle = html.escape(
        f"Python {result.python_version}, {len(result.runs)} runs, median import "
        f"{result.import_ms.median:.1f} ms, {result.module_count} modules "
        "- median times; click a bar to zoom in, the top bar to zoom out"
    )
    rows = "".join(
        f"<tr><td class=n>{c.saving_ms:.1f}</td><td>{html.escape(c.file)}:{c.line}</td>"
        f"<td><code>{html.escape(c.statement)}</code></td><td>{html.escape(c.fix.text)}</td></tr>"
        for c in result.candidates
        if (c.saving_ms or 0) >= 0.05
    )
    table = (
        "<h2>Lazy-load candidates</h2><table><tr><th>saves ms</th><th>where</th>"
        f"<th>import</th><th>fix</th></tr>{rows}</table>"
        if rows
        else ""
    )
    return (
        _TEMPLATE.replace("%TITLE%", title)
        .replace("%SUB%", subtitle)
        .replace("%TABLE%", table)
        .replace("%DATA%", payload)
    )


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%TITLE%</title>
<style>
body{font:13px system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 4px}p{margin:0 0 10px;color:#555}
#tip{position:fixed;pointer-events:none;background:#fff;border:1px solid #999;padding:4px 6px;
display:none;font:12px monospace;white-space:pre}
svg text{font:11px monospace;pointer-events:none}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
h2{font-size:15px;margin:18px 0 6px}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}td.n{text-align:right}
</style></head><body>
<h1>%TITLE%</h1><p>%SUB%</p>
<p class="legend"><span style="background:#e8a33d"></span>third-party / stdlib
<span style="background:#5b8fd6"></span>project module
<span style="background:#c94f4f"></span>lazy-load candidate</p>
<svg id="chart" width="100%"></svg><div id="tip"></div>
%TABLE%
<script>
const DATA = %DATA%;
const lazy = new Set(DATA.lazy);
const ROW = 18, svg = document.getElementById('chart'), tip = document.getElementById('tip');
const NS = 'http://www.w3.org/2000/svg';
let stack = [DATA.root];
function depth(n){let d=0;for(const k of n.k)d=Math.max(d,depth(k));return d+1;}
function color(n){if(lazy.has(n.n))return '#c94f4f';if(n.p)return '#5b8fd6';
  const h=[...n.n].reduce((a,c)=>a+c.charCodeAt(0),0)%30;return `hsl(${25+h},75%,${55+h%10}%)`;}
function draw(){
  const top = stack[stack.length-1], W = svg.clientWidth || 1000;
  svg.innerHTML=''; svg.setAttribute('height', depth(top)*ROW+4);
  const scale = W / Math.max(top.c, 1e-9);
  function place(n, x, y){
    const w = n.c*scale; if (w < 0.5) return;
    const g = document.createElementNS(NS,'g');
    const r = document.createElementNS(NS,'rect');
    r.setAttribute('x',x); r.setAttribute('y',y); r.setAttribute('width',Math.max(w-1,0.5));
    r.setAttribute('height',ROW-2); r.setAttribute('fill',color(n)); r.setAttribute('rx',2);
    g.appendChild(r);
    if (w > 40){const t=document.createElementNS(NS,'text');t.setAttribute('x',x+3);t.setAttribute('y',y+12);
      const label=`${n.n} ${n.c.toFixed(1)}ms`;t.textContent=label.slice(0,Math.floor(w/7));g.appendChild(t);}
    g.addEventListener('mousemove',e=>{tip.style.display='block';tip.style.left=(e.clientX+12)+'px';
      tip.style.top=(e.clientY+12)+'px';
      tip.textContent=`${n.n}\\ncumulative ${n.c.toFixed(2)} ms (${(100*n.c/DATA.root.c).toFixed(1)}%)\\nself ${n.s.toFixed(2)} ms`+(lazy.has(n.n)?'\\nlazy-load candidate':'');});
    g.addEventListener('mouseleave',()=>{tip.style.display='none';});
    g.addEventListener('click',()=>{if(n===top&&stack.length>1)stack.pop();else if(n!==top)stack.push(n);draw();});
    svg.appendChild(g);
    let cx = x;
    for (const k of n.k){place(k,cx,y+ROW);cx+=k.c*scale;}
  }
  place(top,0,0);
}
window.addEventListener('resize',draw); draw();
</script></body></html>
"""
