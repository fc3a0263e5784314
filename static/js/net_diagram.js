/* The network of an X-ray as a diagram (SVG): a node per unit, an edge per weight (colour = sign, width = |value|),
 * columns from the inputs to the outputs. Three views of one step:
 *   forward   each unit's z and a = f(z); the edges are the weights the step started from
 *   backward  each unit's delta = dL/dz (and dL/da); the edges are dL/dw (of the batch, or that sample's share)
 *   update    each unit's bias before -> after; the edges are the weights after the optimiser's step
 * Every value is the X-ray's (BP.xray.unitValue / edgeValue), written by BP.xray.num.
 *
 * Units and inputs are buttons (Tab, Enter): onSelect({kind: "unit", l, j}) / ({kind: "weight", l, j, i});
 * edges answer the mouse; hovering calls onHover(selection) and onHover(null) when the mouse leaves. `shown(column)` says which columns show their values (the animation reveals them).
 * Big layers (more than 10 units) draw as small circles: their numbers are in the chain rule and the tooltips.
 */
(function () {
  "use strict";
  const X = BP.xray, num = X.num, SVG = "http://www.w3.org/2000/svg";
  const POS = "#ea580c", NEG = "#2563eb";

  function el(name, attrs, parent) {
    const e = document.createElementNS(SVG, name);
    for (const k of Object.keys(attrs || {})) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  const tint = (v, max) => {
    const t = Math.min(1, Math.abs(v) / (max || 1)) * 0.4;
    return v >= 0 ? "rgba(234, 88, 12, " + t.toFixed(3) + ")" : "rgba(37, 99, 235, " + t.toFixed(3) + ")";
  };

  /** The lines a node shows in a view: [[label, value], ...] (inputs are layer 0). */
  function nodeLines(net, l, j, view, sample) {
    if (l === 0) return view === "backward" ? [] : [["x", X.inputValue(net, j, sample)]];
    const L = net.layers[l - 1], v = (kind) => X.unitValue(L, kind, j, sample);
    if (view === "forward") return L.actType ? [["z", v("z")], ["a", v("a")]] : [[L.number === net.layers.length ? "out" : "z", v("z")]];
    if (view === "backward") {
      if (!net.hasGrad) return [];
      return L.actType ? [["δ", v("delta")], ["dL/da", v("dA")]] : [["δ", v("delta")]];
    }
    return L.b ? [["b", L.b.before[j]], ["→", L.b.after[j]]] : [];
  }

  /** The value an edge of layer l (unit j from input i) shows in a view. */
  function edgeOf(net, L, j, i, view, sample) {
    if (view === "forward") return X.edgeValue(L, j, i, "before");
    if (view === "backward") return net.hasGrad ? X.edgeValue(L, j, i, sample === "batch" ? "grad" : "share", sample) : NaN;
    return X.edgeValue(L, j, i, "after");
  }

  class NetDiagram {
    constructor(container, onSelect) {
      this.container = container;
      this.onSelect = onSelect;
      this.net = null;
      this.view = "forward";
      this.sample = "batch";
      this.shown = () => true; // which columns show their values (the animation reveals them one by one)
      this.selected = null;
    }

    /** Draw `net` (BP.xray.build) in a view for a sample (an index or "batch"). */
    draw(net, view, sample) {
      this.net = net;
      this.view = view;
      this.sample = sample;
      this.container.textContent = "";
      if (!net) return;
      const cols = [net.inputs].concat(net.layers.map((L) => L.width)), tall = Math.max(...cols);
      const big = tall <= 10, nodeW = big ? 150 : 18, nodeH = big ? 52 : 18;
      const gapY = big ? 22 : 6, H = Math.max(220, tall * (nodeH + gapY) + 56);
      const W = Math.max(cols.length * (big ? 180 : 60), this.container.clientWidth || 900); // drawn 1:1: text at its size
      const svg = el("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, class: "net-svg", role: "group",
        "aria-label": "The network, " + cols.join("-") + " units, " + view + " view" }, this.container);
      const xOf = (c) => 20 + nodeW / 2 + (c * (W - 40 - nodeW)) / (cols.length - 1);
      const yOf = (c, j) => 40 + (H - 56) / 2 + (j - (cols[c] - 1) / 2) * (nodeH + gapY);
      // column titles
      cols.forEach((n, c) => {
        const t = el("text", { x: xOf(c), y: 20, class: "net-col", "text-anchor": "middle" }, svg);
        t.textContent = c === 0 ? "inputs" : c === cols.length - 1 ? "outputs" : BP.layerName(net.layers[c - 1].name) +
          (net.layers[c - 1].actType ? " + " + net.layers[c - 1].actType : "");
      });
      // edges, scaled by the largest |value| of the whole network in this view (so a vanishing gradient looks it)
      const vals = [];
      net.layers.forEach((L) => { for (let j = 0; j < L.width; j++) for (let i = 0; i < L.fanIn; i++) vals.push(edgeOf(net, L, j, i, view, sample)); });
      const max = X.extent([vals]);
      const edges = el("g", { class: "net-edges" }, svg);
      this.edgeEls = [];
      net.layers.forEach((L, li) => {
        const l = li + 1;
        for (let j = 0; j < L.width; j++) for (let i = 0; i < L.fanIn; i++) {
          const v = edgeOf(net, L, j, i, view, sample), shown = this.shown(l);
          const g = el("g", { class: "net-edge", "data-l": l, "data-j": j, "data-i": i }, edges);
          const pts = { x1: xOf(l - 1) + nodeW / 2, y1: yOf(l - 1, i), x2: xOf(l) - nodeW / 2, y2: yOf(l, j) };
          el("line", Object.assign({ class: "net-edge-line", stroke: isFinite(v) && shown ? (v >= 0 ? POS : NEG) : "#cbd5e1",
            "stroke-width": isFinite(v) && shown ? (0.6 + 6 * Math.abs(v) / max).toFixed(2) : 1 }, pts), g);
          el("line", Object.assign({ class: "net-edge-hit", stroke: "transparent", "stroke-width": 10 }, pts), g);
          el("title", {}, g).textContent = X.names.weight(l, j + 1, i + 1) + ": " + this._edgeText(L, j, i);
          g.addEventListener("click", () => this.onSelect({ kind: "weight", l, j, i }));
          this._hover(g, { kind: "weight", l, j, i });
          this.edgeEls.push(g);
        }
      });
      // nodes: the inputs (column 0) and every layer's units
      const nodes = el("g", { class: "net-nodes" }, svg);
      this.nodeEls = [];
      cols.forEach((n, c) => {
        const lines = [];
        for (let j = 0; j < n; j++) lines.push(nodeLines(net, c, j, view, sample));
        const colMax = X.extent([lines.map((ls) => (ls[0] ? ls[0][1] : 0))]);
        for (let j = 0; j < n; j++) this._node(nodes, c, j, lines[j], colMax, { x: xOf(c), y: yOf(c, j), w: nodeW, h: nodeH, big });
      });
      this.mark(this.selected);
    }

    _edgeText(L, j, i) {
      const W = L.W, parts = ["w " + num(W.before[j][i])];
      if (this.net.hasGrad) parts.push("dL/dw " + num(W.grad[j][i]), "after " + num(W.after[j][i]));
      return parts.join(", ");
    }

    _node(parent, c, j, lines, colMax, box) {
      const shown = this.shown(c);
      const name = c === 0 ? "x_" + (j + 1) : X.names.unit(c, j + 1);
      const label = (c === 0 ? "Input " : c === this.net.layers.length ? "Output " : "Unit ") + name +
        (shown && lines.length ? ": " + lines.map(([k, v]) => k + " " + num(v)).join(", ") : "");
      const g = el("g", { class: "net-node" + (c === 0 ? " input" : ""), tabindex: 0, role: "button", "aria-label": label,
        "data-l": c, "data-j": j, transform: "translate(" + box.x + "," + box.y + ")" }, parent);
      const fill = shown && lines.length ? tint(lines[0][1], colMax) : "#f8fafc";
      if (box.big) {
        el("rect", { x: -box.w / 2, y: -box.h / 2, width: box.w, height: box.h, rx: 10, fill, class: "net-box" }, g);
        const name_ = el("text", { x: -box.w / 2 + 6, y: -box.h / 2 - 4, class: "net-name" }, g);
        name_.textContent = name;
        lines.forEach(([k, v], n) => {
          const t = el("text", { x: 0, y: (lines.length === 1 ? 6 : -5 + n * 20), "text-anchor": "middle", class: n ? "net-val second" : "net-val" }, g);
          t.textContent = shown ? k + " " + num(v) : k + " …";
          t.setAttribute("data-kind", k);
        });
      } else {
        el("circle", { r: box.w / 2, fill, class: "net-box" }, g);
      }
      el("title", {}, g).textContent = label;
      const pick = () => this.onSelect(c === 0 ? { kind: "input", l: 0, j } : { kind: "unit", l: c, j });
      g.addEventListener("click", pick);
      this._hover(g, c === 0 ? { kind: "input", l: 0, j } : { kind: "unit", l: c, j });
      g.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          pick();
        }
      });
      this.nodeEls.push(g);
    }

    /** The mouse over a unit or a weight previews its chain rule (onHover(sel)); leaving it, onHover(null). */
    _hover(g, sel) {
      if (!this.onHover) return;
      g.addEventListener("mouseenter", () => this.onHover(sel));
      g.addEventListener("mouseleave", () => this.onHover(null));
    }

    /** Highlight a selection ({kind, l, j, i}): the unit and its incoming edges, or the one edge. */
    mark(sel) {
      this.selected = sel;
      if (!this.nodeEls) return;
      for (const g of this.nodeEls) {
        const on = sel && sel.kind !== "weight" && +g.dataset.l === sel.l && +g.dataset.j === sel.j;
        g.classList.toggle("selected", !!on);
      }
      for (const g of this.edgeEls) {
        const l = +g.dataset.l, j = +g.dataset.j, i = +g.dataset.i;
        const on = sel && (sel.kind === "weight" ? l === sel.l && j === sel.j && i === sel.i : sel.kind === "unit" && l === sel.l && j === sel.j);
        g.classList.toggle("selected", !!on);
        g.classList.toggle("faded", !!sel && !on);
      }
    }

    /** Focus the node of a unit (after a redraw, the keyboard stays where it was). */
    focus(l, j) {
      const g = (this.nodeEls || []).find((n) => +n.dataset.l === l && +n.dataset.j === j);
      if (g) g.focus();
    }
  }

  BP.NetDiagram = NetDiagram;
})();
