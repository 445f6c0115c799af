// htdiag report page: sortable/filterable layer table and per-layer plots drawn on demand
// from the plot data embedded in the page (no network, no libraries).
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  // Parsed on first use: opening the page does not pay for the plot data.
  var DATA = null;
  function data() {
    if (!DATA) DATA = JSON.parse(document.getElementById("plot-data").textContent);
    return DATA;
  }
  var COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#787878"];

  function el(tag, attrs, parent, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function fmt(v) {
    if (!isFinite(v)) return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1).replace("e+", "e");
    return String(+v.toPrecision(4));
  }
  function ticks(lo, hi, log) {
    var t = [], v;
    if (log) {
      var a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
      var st = Math.max(1, Math.ceil((b - a) / 7));
      for (var e = a; e <= b; e += st) { v = Math.pow(10, e); if (v >= lo && v <= hi) t.push(v); }
      return t;
    }
    var raw = (hi - lo) / 6, p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    var step = (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
    for (v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) t.push(+v.toPrecision(12));
    return t;
  }
  function extent(vals, log) {
    var lo = Infinity, hi = -Infinity;
    vals.forEach(function (v) { if (isFinite(v) && (!log || v > 0)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    if (!isFinite(lo)) return log ? [0.1, 10] : [0, 1];
    if (log) { if (hi <= lo) { lo /= 2; hi *= 2; } return [lo / 1.4, hi * 1.4]; }
    if (hi <= lo) return [lo - 0.5, hi + 0.5];
    var pad = (hi - lo) * 0.04;
    return [lo - pad, hi + pad];
  }
  var clipId = 0;
  // Text cut at the front to at most n characters (the end of a name says which layer it is).
  function cutFront(t, n) { return t.length <= n ? t : "\u2026" + t.slice(t.length - n + 1); }
  // spec: {title, xlabel, ylabel, xlog, ylog, x:[lo,hi], y:[lo,hi], items:[...], note}
  // The legend sits in rows under the title, outside the data area.
  function chart(spec) {
    var W = 560, L = 62, R = 12, B = 42, PH = 280;
    var legend = spec.items.filter(function (it) { return it.label; });
    var rows = [[]], used = 0;
    legend.forEach(function (it) {
      var w = 30 + 6.2 * it.label.length;
      if (used + w > W - 20 && rows[rows.length - 1].length) { rows.push([]); used = 0; }
      rows[rows.length - 1].push({ it: it, x: used }); used += w;
    });
    var notes = spec.note ? 1 : 0;
    var T = 28 + (legend.length ? rows.length * 15 : 0) + notes * 14 + 6, H = T + PH + B;
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, "class": "plot", role: "img" });
    el("title", {}, svg, spec.title);
    var tx = spec.xlog ? Math.log10 : function (v) { return v; };
    var ty = spec.ylog ? Math.log10 : function (v) { return v; };
    var x0 = tx(spec.x[0]), x1 = tx(spec.x[1]), y0 = ty(spec.y[0]), y1 = ty(spec.y[1]);
    function X(v) { return L + (tx(v) - x0) / (x1 - x0) * (W - L - R); }
    function Y(v) { return H - B - (ty(v) - y0) / (y1 - y0) * (H - T - B); }
    el("text", { x: W / 2, y: 17, "text-anchor": "middle", "font-size": 13 }, svg, cutFront(spec.title, 84));
    rows.forEach(function (row, r) {
      var width = row.length ? row[row.length - 1].x + 30 + 6.2 * row[row.length - 1].it.label.length : 0;
      var xs = Math.max(4, (W - width) / 2), y = 28 + r * 15 + 8;
      row.forEach(function (e) {
        var it = e.it, x = xs + e.x;
        if (it.type === "bars") el("rect", { x: x, y: y - 8, width: 16, height: 9, fill: it.color, "fill-opacity": 0.45 }, svg);
        else if (it.type === "dots" || it.type === "dot") el("circle", { cx: x + 8, cy: y - 4, r: 3.5, fill: it.color }, svg);
        else el("line", { x1: x, x2: x + 16, y1: y - 4, y2: y - 4, stroke: it.color, "stroke-width": 2, "stroke-dasharray": it.type === "line" && !it.dash ? "none" : "5 2" }, svg);
        el("text", { x: x + 22, y: y, "font-size": 11 }, svg, it.label);
      });
    });
    if (notes) el("text", { x: W / 2, y: T - 8, "text-anchor": "middle", "font-size": 11, "font-style": "italic", fill: "#57606a" }, svg, spec.note);
    var id = "clip" + (++clipId);
    el("rect", { x: L, y: T, width: W - L - R, height: H - T - B }, el("clipPath", { id: id }, el("defs", {}, svg)));
    ticks(spec.x[0], spec.x[1], spec.xlog).forEach(function (v) {
      el("line", { x1: X(v), x2: X(v), y1: T, y2: H - B, stroke: "#e3e7ec" }, svg);
      el("text", { x: X(v), y: H - B + 14, "text-anchor": "middle", "font-size": 11 }, svg, fmt(v));
    });
    ticks(spec.y[0], spec.y[1], spec.ylog).forEach(function (v) {
      el("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), stroke: "#e3e7ec" }, svg);
      el("text", { x: L - 5, y: Y(v) + 4, "text-anchor": "end", "font-size": 11 }, svg, fmt(v));
    });
    el("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "none", stroke: "#888" }, svg);
    el("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle", "font-size": 12 }, svg, spec.xlabel);
    el("text", { x: 14, y: (T + H - B) / 2, "text-anchor": "middle", "font-size": 12,
      transform: "rotate(-90 14 " + (T + H - B) / 2 + ")" }, svg, spec.ylabel);
    var g = el("g", { "clip-path": "url(#" + id + ")" }, svg);
    spec.items.forEach(function (it) {
      var c = it.color;
      if (it.type === "bars") {
        var base = spec.ylog ? spec.y[0] : 0, d = "";
        it.vals.forEach(function (v, i) {
          if (!(v > 0)) return;
          var xa = X(it.edges[i]), xb = X(it.edges[i + 1]), ya = Y(v), yb = Y(base);
          d += "M" + xa.toFixed(1) + " " + yb.toFixed(1) + "V" + ya.toFixed(1) + "H" + xb.toFixed(1) + "V" + yb.toFixed(1) + "Z";
        });
        el("path", { d: d, fill: c, "fill-opacity": 0.45, stroke: c, "stroke-opacity": 0.6, "stroke-width": 0.5 }, g);
      } else if (it.type === "line") {
        var pts = it.pts.filter(function (p) { return isFinite(tx(p[0])) && isFinite(ty(p[1])); })
          .map(function (p) { return X(p[0]).toFixed(1) + "," + Y(p[1]).toFixed(1); }).join(" ");
        el("polyline", { points: pts, fill: "none", stroke: c, "stroke-width": 2, "stroke-dasharray": it.dash ? "7 4" : "none" }, g);
      } else if (it.type === "dots" || it.type === "dot") {
        it.pts.forEach(function (p) {
          if (isFinite(tx(p[0])) && isFinite(ty(p[1])))
            el("circle", { cx: X(p[0]).toFixed(1), cy: Y(p[1]).toFixed(1), r: it.type === "dot" ? 5 : 2, fill: c }, g);
        });
      } else if (it.type === "vline") {
        el("line", { x1: X(it.x), x2: X(it.x), y1: T, y2: H - B, stroke: c, "stroke-width": 2, "stroke-dasharray": "6 3" }, g);
      }
    });
    return svg;
  }

  function histItems(h, color, label) {
    return { type: "bars", edges: h.edges, vals: h.density, color: color, label: label };
  }
  function markerItems(markers) {
    return markers.map(function (m, i) {
      return { type: "vline", x: m[1], color: COLORS[[2, 3, 4][i % 3]], label: m[0] + " = " + fmt(m[1]) };
    });
  }
  function marked(p, curve) {
    var xs = p.hist.edges.concat(p.markers.map(function (m) { return m[1]; }));
    var ys = p.hist.density.slice();
    var items = [histItems(p.hist, COLORS[0], "density")];
    if (curve) {
      curve.forEach(function (c) { xs.push(c[0]); ys.push(c[1]); });
      items.push({ type: "line", pts: curve, color: COLORS[3], label: "Marchenko-Pastur" });
    }
    var yr = extent(ys.concat([0]), false);
    return chart({ title: p.title, xlabel: p.xlabel || "eigenvalue", ylabel: "density", x: extent(xs, false),
      y: [0, yr[1]], items: items.concat(markerItems(p.markers)) });
  }
  function loglog(p) {
    var ys = p.hist.density.concat(p.fit_line.map(function (q) { return q[1]; }));
    var items = [histItems(p.hist, COLORS[0], "ESD")];
    if (p.fit_line.length) items.push({ type: "line", pts: p.fit_line, color: COLORS[3], dash: true, label: "power-law fit" });
    if (p.xmin !== null) items.push({ type: "vline", x: p.xmin, color: COLORS[2], label: "xmin = " + fmt(p.xmin) });
    return chart({ title: p.title, xlabel: "eigenvalue", ylabel: "density", xlog: true, ylog: true,
      x: extent(p.hist.edges, true), y: extent(ys, true), items: items });
  }
  function ccdf(p) {
    var ys = p.points.map(function (q) { return q[1]; }).concat(p.fit_line.map(function (q) { return q[1]; }));
    var items = [{ type: "dots", pts: p.points, color: COLORS[0], label: "P(X >= x), data" }];
    if (p.fit_line.length) items.push({ type: "line", pts: p.fit_line, color: COLORS[3], dash: true, label: "power-law fit" });
    if (p.xmin !== null) items.push({ type: "vline", x: p.xmin, color: COLORS[2], label: "xmin = " + fmt(p.xmin) });
    var y = extent(ys, true);
    return chart({ title: p.title, xlabel: "eigenvalue x", ylabel: "P(X >= x)", xlog: true, ylog: true,
      x: extent(p.points.map(function (q) { return q[0]; }), true), y: [y[0], 1.4], items: items });
  }
  function scan(p) {
    var pts = function (ys, cap) { return p.xmin.map(function (x, i) { return [x, Math.min(ys[i], cap)]; }); };
    var chosen = p.chosen === null ? null : p.chosen;
    var cap = chosen === null ? 10 : Math.max(10, 3 * p.alpha[chosen]);
    var fp = p.fit_point;
    if (fp) cap = Math.max(10, 3 * fp[2]);
    var mk = chosen === null ? [] : [{ type: "vline", x: p.xmin[chosen], color: COLORS[2], label: "xmin = " + fmt(p.xmin[chosen]) }];
    var own = function (k) {
      return fp ? [{ type: "dot", pts: [[fp[0], Math.min(fp[k], k === 2 ? cap : 1)]], color: COLORS[3],
        label: "the fit: " + (k === 1 ? "D = " : "alpha = ") + fmt(fp[k]) }] : [];
    };
    var note = p.rule || undefined;
    var d = chart({ title: p.title.replace("and alpha ", ""), xlabel: "candidate xmin", ylabel: "KS distance D", xlog: true, note: note,
      x: extent(p.xmin, true), y: [0, 1.02], items: [{ type: "line", pts: pts(p.d, 1), color: COLORS[0], label: "D (plain scan)" }].concat(mk, own(1)) });
    var av = p.alpha.map(function (v) { return Math.min(v, cap); });
    if (fp) av.push(fp[2]);
    var a = chart({ title: "alpha vs candidate xmin", xlabel: "candidate xmin", ylabel: "alpha", xlog: true, note: note,
      x: extent(p.xmin, true), y: extent(av, false),
      items: [{ type: "line", pts: pts(p.alpha, cap), color: COLORS[0], label: "alpha (plain scan)" }].concat(mk, own(2)) });
    return [d, a];
  }
  function twoHists(title, xlabel, hs, names, markers) {
    var ys = hs[0].density.concat(hs[1].density, [0]);
    return chart({ title: title, xlabel: xlabel, ylabel: "density", x: extent(hs[0].edges, false),
      y: [0, extent(ys, false)[1]],
      items: [histItems(hs[0], COLORS[0], names[0]), histItems(hs[1], COLORS[1], names[1])].concat(markerItems(markers || [])) });
  }
  function layerCharts(p) {
    var out = [];
    if (p.loglog) out.push(loglog(p.loglog));
    if (p.ccdf) out.push(ccdf(p.ccdf));
    if (p.linear) out.push(marked(p.linear));
    if (p.loglin) out.push(marked(p.loglin));
    if (p.scan) out = out.concat(scan(p.scan));
    if (p.randomized) out.push(twoHists(p.randomized.title, "log10 eigenvalue", [p.randomized.real, p.randomized.random], ["ESD", "randomized ESD"], p.randomized.markers));
    if (p.mp) { var m = p.mp; m.xlabel = "eigenvalue"; out.push(marked(m, m.curve)); }
    return out;
  }
  // Both ESDs over log10(x), as densities per log10 unit, with each side's fitted line.
  function overlayCharts(p) {
    var log = function (h) {
      var e = h.edges.map(Math.log10);
      return { edges: e, density: h.density.map(function (d, i) { return d * (h.edges[i + 1] - h.edges[i]) / (e[i + 1] - e[i]); }) };
    };
    var hs = [log(p.hists[0]), log(p.hists[1])];
    var items = [histItems(hs[0], COLORS[0], p.names[0]), histItems(hs[1], COLORS[1], p.names[1])];
    var ys = hs[0].density.concat(hs[1].density, [0]);
    (p.fit_lines || []).forEach(function (l, k) {
      if (!l.length) return;
      items.push({ type: "line", dash: true, color: COLORS[[3, 4][k]], label: "fit of " + p.names[k],
        pts: l.map(function (q) { return [Math.log10(q[0]), q[1]]; }) });
      l.forEach(function (q) { ys.push(q[1]); });
    });
    return [chart({ title: p.title, xlabel: "log10 eigenvalue", ylabel: "density per log10 unit",
      x: extent(hs[0].edges, false), y: [0, extent(ys, false)[1]], items: items })];
  }

  // Per-layer panel: opened by the row links (#plot-K), drawn on demand.
  var panel = document.getElementById("layer-plots");
  function showFromHash() {
    var m = /^#plot-(.+)$/.exec(location.hash);
    if (!m || !panel) return;
    var key = decodeURIComponent(m[1]), list = data().layers, k = -1;
    for (var i = 0; i < list.length; i++) if (list[i] && list[i].anchor === key) { k = i; break; }
    if (k < 0 && /^\d+$/.test(key)) k = +key;
    var p = list[k];
    if (!p) return;
    var grid = document.getElementById("lp-grid");
    while (grid.firstChild) grid.removeChild(grid.firstChild);
    document.getElementById("lp-title").textContent = p.label;
    var charts = data().kind === "compare" ? overlayCharts(p) : layerCharts(p);
    if (!charts.length) { var n = document.createElement("p"); n.textContent = "No spectrum to plot for this row."; grid.appendChild(n); }
    charts.forEach(function (c) { grid.appendChild(c); });
    panel.hidden = false;
    var prev = document.querySelector("tr.selected");
    if (prev) prev.classList.remove("selected");
    var row = document.getElementById("row-" + key);
    if (row) row.classList.add("selected");
    panel.scrollIntoView();
  }
  window.addEventListener("hashchange", showFromHash);

  // Sorting: click a header; numbers sort numerically, empty cells last.
  var table = document.getElementById("layer-table");
  if (table) {
    var tbody = table.tBodies[0];
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener("click", function () {
        var asc = !th.classList.contains("sorted-asc");
        Array.prototype.forEach.call(th.parentNode.cells, function (c) { c.classList.remove("sorted-asc", "sorted-desc"); c.removeAttribute("aria-sort"); });
        th.classList.add(asc ? "sorted-asc" : "sorted-desc");
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var num = th.dataset.type === "num";
        var rows = Array.prototype.slice.call(tbody.rows);
        var key = function (r) { var v = r.cells[col].dataset.v; return v === undefined ? r.cells[col].textContent : v; };
        rows.sort(function (a, b) {
          var va = key(a), vb = key(b);
          if (va === "" || vb === "") return (va === "") - (vb === "");
          var c = num ? (+va) - (+vb) : va.localeCompare(vb);
          return asc ? c : -c;
        });
        var frag = document.createDocumentFragment();
        rows.forEach(function (r) { frag.appendChild(r); });
        tbody.appendChild(frag);
      });
    });
    var text = document.getElementById("filter-text"), kind = document.getElementById("filter-kind");
    var count = document.getElementById("filter-count");
    var apply = function () {
      var q = text ? text.value.toLowerCase() : "", w = kind ? kind.value : "";
      var shown = 0;
      Array.prototype.forEach.call(tbody.rows, function (r) {
        var ok = (!q || r.dataset.name.toLowerCase().indexOf(q) >= 0) &&
          (!w || (w === "any" ? r.dataset.w !== "" : r.dataset.w === w));
        r.hidden = !ok;
        if (ok) shown++;
      });
      if (count) count.textContent = shown + " of " + tbody.rows.length + " rows";
    };
    if (text) text.addEventListener("input", apply);
    if (kind) kind.addEventListener("change", apply);
    apply();
  }
  showFromHash();
})();
