/* The X-ray's numbers of one chosen unit as tables, every cell a number of the X-ray (BP.xray.num):
 *   unitTable    the unit on every sample of the batch: z, a = f(z), dL/da, delta = dL/dz (and the batch's row:
 *                mean z and a, the sum of the deltas, which is the network's dL/db)
 *   weightTable  the unit's incoming weights (and bias): before, dL/dw, after, and the optimiser's state
 * BP.xrayTables.unit(el, net, l, j, sample, onSample) and .weights(el, net, l, j, onWeight) fill `el`.
 */
(function () {
  "use strict";
  const X = BP.xray, num = X.num, N = X.names;
  const STATE_NAMES = { momentum_buffer: "momentum buffer", exp_avg: "Adam m", exp_avg_sq: "Adam v" };

  function table(el, caption, head, rows) {
    el.textContent = "";
    const t = document.createElement("table");
    t.className = "xray-table";
    t.createCaption().textContent = caption;
    const tr = t.createTHead().insertRow();
    for (const h of head) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = h;
      tr.appendChild(th);
    }
    const body = t.createTBody();
    for (const r of rows) {
      const row = body.insertRow();
      if (r.cls) row.className = r.cls;
      r.cells.forEach((c, k) => {
        const cell = k === 0 ? document.createElement("th") : row.insertCell();
        if (k === 0) {
          cell.scope = "row";
          row.appendChild(cell);
        }
        if (c && c.button) {
          const b = document.createElement("button");
          b.type = "button";
          b.className = "link-btn";
          b.textContent = c.text;
          b.addEventListener("click", c.button);
          cell.appendChild(b);
        } else {
          cell.textContent = typeof c === "number" ? num(c) : c;
          if (typeof c === "number") cell.dataset.value = String(c);
        }
      });
    }
    el.appendChild(t);
  }

  /** The unit (l, j) on every sample: z, a, dL/da, delta; the chosen sample's row marked. */
  function unit(el, net, l, j, sample, onSample) {
    if (!net || l < 1) return void (el.textContent = "");
    const L = net.layers[l - 1], u = N.unit(l, j + 1), act = !!L.actType;
    const head = ["sample", "z_" + u].concat(act ? ["a_" + u] : [], net.hasGrad ? (act ? ["dL/da", "δ_" + u] : ["δ_" + u]) : []);
    const row = (s) => {
      const cells = [{ text: s === "batch" ? "batch" : String(s + 1), button: () => onSample(s) }, X.unitValue(L, "z", j, s)];
      if (act) cells.push(X.unitValue(L, "a", j, s));
      if (net.hasGrad) {
        if (act) cells.push(X.unitValue(L, "dA", j, s));
        cells.push(X.unitValue(L, "delta", j, s));
      }
      return { cells, cls: s === sample ? "current" : "" };
    };
    const rows = [];
    for (let s = 0; s < net.n; s++) rows.push(row(s));
    rows.push(row("batch"));
    table(el, "Unit " + u + " on each sample of the batch (the last row: mean of z" + (act ? " and a" : "") +
      (net.hasGrad ? ", sum of δ = dL/db" : "") + ")", head, rows);
  }

  /** The incoming weights of unit (l, j) and its bias: before, dL/dw, after, optimiser state. */
  function weights(el, net, l, j, onWeight) {
    if (!net || l < 1) return void (el.textContent = "");
    const L = net.layers[l - 1], W = L.W, states = X.stateNames(W);
    const head = ["weight", "from", "before"].concat(net.hasGrad ? ["dL/dw", "after", "change"] : [],
      net.hasGrad ? states.map((k) => STATE_NAMES[k] || k) : []);
    const row = (name, from, P, pick) => {
      const cells = [pick ? { text: name, button: pick } : name, from, P.before];
      if (net.hasGrad) {
        cells.push(P.grad, P.after, P.after - P.before);
        for (const k of states) cells.push(P.state && P.state[k] !== undefined ? P.state[k] : "–");
      }
      return { cells };
    };
    const rows = [];
    for (let i = 0; i < L.fanIn; i++) {
      const P = { before: W.before[j][i], grad: W.grad && W.grad[j][i], after: W.after && W.after[j][i], state: {} };
      for (const k of states) P.state[k] = W.state[k][j][i];
      rows.push(row(N.weight(l, j + 1, i + 1), N.a(l - 1, i + 1), P, () => onWeight(i)));
    }
    if (L.b) {
      const B = L.b, P = { before: B.before[j], grad: B.grad && B.grad[j], after: B.after && B.after[j], state: {} };
      for (const k of X.stateNames(B)) P.state[k] = B.state[k][j];
      rows.push(row(N.bias(l, j + 1), "1", P, null));
    }
    table(el, "The weights into unit " + N.unit(l, j + 1) + ": this step's update" +
      (net.optimizer ? " (" + net.optimizer + ", lr " + num(net.lr) + ")" : ""), head, rows);
  }

  /** A big network's X-ray (summary: true): per layer the norms of its weights before and after, of dL/dW, and
   *  of its output and output gradient on the batch. */
  function summary(el, xr) {
    const norm = (s) => (s && typeof s === "object" && "norm" in s ? s.norm : "–");
    const rows = xr.layers.map((m) => {
      const w = m.params && m.params.weight;
      return { cells: [BP.layerName(m.name), (m.output_shape || []).join("×"), norm(m.output), norm(m.grad_output),
        w ? norm(w.before) : "–", w ? norm(w.grad) : "–", w ? norm(w.after) : "–"] };
    });
    table(el, "Step " + xr.step + ", per layer: L2 norms on the batch of " + xr.sample_count, ["layer", "output shape",
      "|output|", "|dL/d output|", "|W| before", "|dL/dW|", "|W| after"], rows);
  }

  BP.xrayTables = { unit, weights, summary };
})();
