/* perfkit HTML reports: sortable/searchable tables and charts (uPlot) from the page's
   embedded specs. Plain JavaScript, no network. */
(function () {
  "use strict";
  var PAL = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#999999"];
  var PK = (window.PK = { charts: {}, palette: PAL, timing: { start: performance.now() } });
  PK.data = JSON.parse(document.getElementById("pk-data").textContent);
  PK.specs = JSON.parse(document.getElementById("pk-charts").textContent);

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  /* ---- tables ---- */
  function cellValue(td) {
    var v = td.getAttribute("data-v");
    if (v !== null) return v === "" ? null : parseFloat(v);
    return td.textContent.trim().toLowerCase();
  }
  PK.sortTable = function (table, col, dir) {
    var tb = table.tBodies[0];
    var rows = Array.prototype.slice.call(tb.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a.cells[col]), y = cellValue(b.cells[col]);
      if (x === y) return 0;
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * dir;
    });
    rows.forEach(function (r) { tb.appendChild(r); });
    var ths = table.tHead.rows[0].cells;
    for (var i = 0; i < ths.length; i++) ths[i].removeAttribute("aria-sort");
    ths[col].setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
    table.setAttribute("data-sort-col", col);
    table.setAttribute("data-sort-dir", dir);
  };
  PK.resort = function (table) {
    var col = table.getAttribute("data-sort-col");
    if (col !== null) PK.sortTable(table, +col, +table.getAttribute("data-sort-dir"));
  };
  document.querySelectorAll("table.pk").forEach(function (table) {
    var ths = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(ths, function (th, i) {
      th.tabIndex = 0;
      function go() {
        var cur = table.getAttribute("data-sort-col");
        var dir = th.classList.contains("num") ? -1 : 1;
        if (cur !== null && +cur === i) dir = -table.getAttribute("data-sort-dir");
        PK.sortTable(table, i, dir);
      }
      th.addEventListener("click", go);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); } });
    });
  });
  document.querySelectorAll("input.find").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        r.classList.toggle("nomatch", q !== "" && r.textContent.toLowerCase().indexOf(q) < 0);
      });
    });
  });

  /* ---- charts ---- */
  function number(v) {
    if (v === null || v === undefined) return "";
    var a = Math.abs(v);
    if (a >= 1000) return v.toLocaleString("en-US", { maximumFractionDigits: 0 });
    if (a >= 10) return v.toLocaleString("en-US", { maximumFractionDigits: 1 });
    return v.toLocaleString("en-US", { maximumFractionDigits: 3 });
  }
  PK.number = number;

  function build(spec, el) {
    var fg = css("--fg") || "#222", grid = css("--grid") || "#0002";
    var n = spec.series.length;
    var raw = spec.series.map(function (s) { return s.values; });
    var shown = raw;
    if (spec.stacked) {  /* cumulative sums, drawn top layer first so lower fills cover it */
      var acc = spec.x.map(function () { return 0; });
      shown = raw.map(function (vals) {
        acc = acc.map(function (a, i) { return a + (vals[i] || 0); });
        return acc.slice();
      });
    }
    var order = [];
    for (var i = 0; i < n; i++) order.push(spec.stacked ? n - 1 - i : i);
    var cats = spec.xCategories || null;
    var useY2 = spec.series.some(function (s) { return s.axis === 1; });
    var series = [{
      label: spec.xLabel || "x",
      value: cats ? function (u, v) { return v === null ? "" : cats[v]; } :
        spec.xTime ? function (u, v) { return v === null ? "" : new Date(v * 1000).toISOString().slice(0, 16).replace("T", " ") + "Z"; } : undefined
    }];
    order.forEach(function (k) {
      var s = spec.series[k];
      var color = s.color || PAL[k % PAL.length];
      var o = {
        label: s.label, stroke: color, width: s.width || 1.5, scale: s.axis === 1 ? "y2" : "y",
        spanGaps: false,
        value: (function (k) { return function (u, v, si, idx) { var r = idx === null || idx === undefined ? v : raw[k][idx]; return r === null || r === undefined ? "" : number(r); }; })(k)
      };
      if (spec.stacked || s.fill) o.fill = color + (spec.stacked ? "cc" : "33");
      if (spec.kind === "points" || s.points) {
        o.points = { show: true, size: s.size || 6, fill: color, stroke: color };
        if (spec.kind === "points") o.paths = function () { return null; };
      } else o.points = { show: spec.x.length < 40 };
      if (spec.kind === "bars") {
        o.paths = uPlot.paths.bars({ size: [0.8, 60] });
        o.fill = color + "cc";
        o.points = { show: false };
      }
      if (s.dash) o.dash = [6, 4];
      series.push(o);
    });
    var axes = [
      { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid }, label: spec.xLabel || "" },
      { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid }, label: spec.yLabel || "", scale: "y", size: 60,
        values: function (u, t) { return t.map(number); } }
    ];
    if (useY2) axes.push({ stroke: fg, side: 1, scale: "y2", grid: { show: false }, label: spec.y2Label || "", size: 60,
      values: function (u, t) { return t.map(number); } });
    if (cats) {
      axes[0].splits = function () { return cats.map(function (_, i) { return i; }); };
      axes[0].values = function (u, t) { return t.map(function (v) { return cats[v] === undefined ? "" : cats[v]; }); };
      axes[0].rotate = cats.length > 8 ? -30 : 0;
      axes[0].size = cats.length > 8 ? 70 : 40;
    }
    if (!cats && !spec.xTime && spec.x.length <= 30 && spec.x.every(function (v) { return v === Math.round(v); })) {
      axes[0].splits = function () { return spec.x.slice(); };
    }
    var scales = { x: { time: !!spec.xTime } };
    if (spec.xLog) scales.x.distr = 3;
    if (cats) scales.x.range = function () { return [-0.6, cats.length - 0.4]; };
    if (spec.kind === "points" && !cats) scales.x.range = function (u, mn, mx) { var pad = (mx - mn) * 0.05 || 1; return [mn - pad, mx + pad]; };
    scales.y = { range: function (u, mn, mx) { return [Math.min(0, mn), mx > 0 ? mx * 1.08 : 1]; } };
    if (useY2) scales.y2 = { range: function (u, mn, mx) { return [Math.min(0, mn), mx > 0 ? mx * 1.08 : 1]; } };
    var opts = {
      width: Math.max(el.clientWidth, 300), height: spec.height || 260,
      series: series, axes: axes, scales: scales,
      cursor: { drag: { x: !!spec.brush, y: false, setScale: false } },
      legend: { live: true },
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      hooks: {}
    };
    if (spec.brush) {
      opts.hooks.setSelect = [function (u) {
        if (u.select.width > 2 && PK.onBrush) {
          PK.onBrush(u.posToVal(u.select.left, "x"), u.posToVal(u.select.left + u.select.width, "x"), spec.id);
        }
      }];
    }
    var data = [spec.x].concat(order.map(function (k) { return shown[k]; }));
    var u = new uPlot(opts, data, el);
    el.setAttribute("data-series", n);
    el.setAttribute("data-drawn", "1");
    PK.charts[spec.id] = u;
    return u;
  }

  PK.draw = function () {
    PK.specs.forEach(function (spec) {
      if (PK.charts[spec.id]) return;
      var el = document.getElementById(spec.id);
      /* drawn once visible: a chart in a closed drill-down waits until it is opened */
      if (!el || el.closest("details:not([open])") || !el.getClientRects().length || !el.clientWidth) return;
      build(spec, el);
    });
  };
  window.addEventListener("resize", function () {
    Object.keys(PK.charts).forEach(function (id) {
      var el = document.getElementById(id), u = PK.charts[id];
      if (el && el.clientWidth) u.setSize({ width: el.clientWidth, height: u.height });
    });
  });
  document.addEventListener("toggle", function () { PK.draw(); }, true);
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
  PK.draw();
  PK.timing.drawn = performance.now();
})();
