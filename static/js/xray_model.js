/* The X-ray of a training step (docs/xray.md: GET /jobs/<id>/xray.json, the `xray` socket event) read into the
 * network the views draw: columns of units, per unit z, a = f(z), delta = dL/dz, per edge w before / dL/dw /
 * after. Every number is one the network computed (the X-ray's arrays); the only arithmetic here picks one
 * sample or gathers the batch:
 *   batch view:  z and a are the batch's means; delta is the sum over the batch, which is the network's dL/db
 *                (the loss is the batch's mean, so each sample's delta already carries its 1/N).
 *   sample view: that sample's z, a and delta; an edge shows that sample's share a_in * delta of dL/dw.
 * BP.xray.num is the one way a number of the X-ray is written (the chain rule's text, the diagram, the tests).
 */
(function () {
  "use strict";
  const ACTIVATIONS = ["Sigmoid", "Tanh", "ReLU", "LeakyReLU"];
  const PASS_THROUGH = ["Dropout", "Flatten"];

  /** f'(z) of an activation from its output a (and z), as the library's backward multiplies by it. */
  const DERIVATIVES = {
    Sigmoid: { text: "a·(1 − a)", fn: (z, a) => a * (1 - a) },
    Tanh: { text: "1 − a²", fn: (z, a) => 1 - a * a },
    ReLU: { text: "1 if z > 0 else 0", fn: (z) => (z > 0 ? 1 : 0) },
    LeakyReLU: { text: "1 if z > 0 else 0.01", fn: (z) => (z > 0 ? 1 : 0.01) },
  };

  /** A number as the X-ray's views write it: 4 significant digits, exponent form when tiny or huge. */
  function num(v) {
    if (typeof v !== "number" || !isFinite(v)) return "–";
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a < 1e-4 || a >= 1e5) return v.toExponential(3).replace(/\.?0+e/, "e");
    return String(+v.toPrecision(4));
  }

  const col = (rows, j) => rows.map((r) => r[j]);
  const mean = (xs) => xs.reduce((s, v) => s + v, 0) / xs.length;
  const sum = (xs) => xs.reduce((s, v) => s + v, 0);

  /** The network of an X-ray: {step, lr, loss, n, lossFn, optimizer, inputs, layers: [...]}, or null for a
   *  summary X-ray (too big to draw unit by unit). Layer l (1-based, as in "Linear 2") holds its Linear
   *  module and the modules after it up to the next Linear: its activation, if any, and others (batch norm
   *  before the activation, dropout after it). */
  function build(xr) {
    if (!xr || xr.summary || !Array.isArray(xr.layers) || !Array.isArray(xr.x)) return null;
    const mods = xr.layers, layers = [];
    let prevOut = xr.x, cur = null;
    for (const m of mods) {
      if (m.type === "Linear") {
        cur = {
          number: layers.length + 1, name: m.name, linear: m, act: null, others: [], input: m.input || prevOut,
          z: m.output, delta: m.grad_output, W: m.params && m.params.weight, b: m.params && m.params.bias,
        };
        cur.width = cur.W ? cur.W.before.length : m.output[0].length;
        cur.fanIn = cur.W ? cur.W.before[0].length : cur.input[0].length;
        layers.push(cur);
      } else if (cur && ACTIVATIONS.includes(m.type) && !cur.act) {
        cur.act = m;
        cur.norm = cur.others.map((o) => o.type); // a batch norm between z and the activation
      } else if (cur) {
        cur.others.push(m);
      } else if (!PASS_THROUGH.includes(m.type)) {
        return null; // a network that does not start with a Linear layer (a CNN): drawn as a summary
      }
      prevOut = m.output;
    }
    if (!layers.length) return null;
    for (const L of layers) {
      L.a = L.act ? L.act.output : L.z;
      L.dA = L.act ? L.act.grad_output : L.delta; // dL/da: what flows back into the unit from the layer above
      L.actType = L.act ? L.act.type : null;
      L.simple = !L.others.length; // Linear then (activation): the chain rule is written out in full
    }
    return {
      step: xr.step, lr: xr.lr, loss: xr.loss, n: xr.x.length, lossFn: xr.loss_fn || "", optimizer: xr.optimizer || "",
      settings: xr.optimizer_settings || null, reduction: xr.reduction || "mean", x: xr.x, y: xr.y, inputs: xr.x[0].length, layers, pending: !!xr.pending,
      hasGrad: layers.every((L) => Array.isArray(L.delta) && L.W && Array.isArray(L.W.grad)),
    };
  }

  /** The value of a unit shown for `sample` (an index, or "batch"): kind is z, a, delta or dA. */
  function unitValue(L, kind, j, sample) {
    const rows = L[kind];
    if (!rows) return NaN;
    if (sample === "batch") return kind === "delta" || kind === "dA" ? sum(col(rows, j)) : mean(col(rows, j));
    return rows[sample][j];
  }

  /** An input feature's value (layer 0): the sample's, or the batch mean. */
  function inputValue(net, i, sample) {
    return sample === "batch" ? mean(col(net.x, i)) : net.x[sample][i];
  }

  /** What an edge of layer L (from input i to unit j) shows: w before / after, the network's dL/dw, and for a
   *  sample its share a_in * delta. */
  function edgeValue(L, j, i, kind, sample) {
    if (kind === "share") return L.input[sample][i] * L.delta[sample][j];
    const W = L.W;
    return W && W[kind] ? W[kind][j][i] : NaN;
  }

  /** The largest |value| of a list of arrays (for scales); 1 when all are 0. */
  function extent(arrays) {
    let m = 0;
    for (const a of arrays) for (const row of a || []) for (const v of Array.isArray(row) ? row : [row]) {
      if (isFinite(v)) m = Math.max(m, Math.abs(v));
    }
    return m || 1;
  }

  /** The optimiser's state arrays of a parameter (momentum_buffer, exp_avg, exp_avg_sq...; not Adam's step count). */
  const stateNames = (P) => Object.keys((P && P.state) || {}).filter((k) => Array.isArray(P.state[k]));

  /** Unit names of the chain rule and the diagram: input x_i, unit (l, j), weight Wl[j,i]; all 1-based. */
  const names = {
    unit: (l, j) => l + "," + j,
    a: (l, j) => (l === 0 ? "x_" + j : "a_" + l + "," + j),
    weight: (l, j, i) => "W" + l + "[" + j + "," + i + "]",
    bias: (l, j) => "b" + l + "[" + j + "]",
  };

  /** Views that show more of an X-ray (the units' pictures): BP.xray.listen(fn) calls fn(xray) for each X-ray shown. */
  const listeners = [];
  const listen = (fn) => listeners.push(fn);
  const shown = (xr) => listeners.forEach((fn) => fn(xr));

  BP.xray = { build, unitValue, inputValue, edgeValue, extent, num, names, stateNames, DERIVATIVES, col, mean, sum, listen, shown };
})();
