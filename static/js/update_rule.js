/* The optimiser's step on one weight, written out with the X-ray's numbers: the textbook update of each
 * optimiser the dashboard offers (PyTorch's definitions, docs/xray.md), e.g. for Adam
 *
 *   m = β1 · m_before + (1 - β1) · g = 0.9 * 0.012 + 0.1 * (-0.3) = -0.0192
 *   v = β2 · v_before + (1 - β2) · g² = 0.999 * 0.0004 + 0.001 * (-0.3)^2 = 0.0004896
 *   m̂ = m / (1 - β1^t) = -0.0192 / (1 - 0.9^3) = -0.07085
 *   after = before - lr · m̂ / (√v̂ + ε) = ...
 *
 * m, v, the momentum buffer and `after` are the network's own values (the optimiser's state after the step);
 * the terms are its state before the step and its settings (xray.optimizer_settings). Only the bias-corrected
 * m̂ and v̂ are worked out here, as the step computes them and keeps neither.
 *
 * BP.updateRule(net, name, P) returns the lines of the update of weight `name`: P = {before, grad, after,
 * state: {k: value}, stateBefore: {k: value}, step}; each line is {label, key, value, text} as in chain_rule.js.
 */
(function () {
  "use strict";
  const X = BP.xray, num = X.num;
  const paren = (v) => (v < 0 ? "(" + num(v) + ")" : num(v));

  /** g' = g + weight_decay · w (L2 decay folded into the gradient), or g itself. */
  function decayed(S, P, lines) {
    const wd = S.weight_decay || 0;
    if (!wd || S.decoupled_weight_decay) return { g: P.grad, sym: "g" };
    const g = P.grad + wd * P.before;
    lines.push({ label: "", text: "g' = dL/dw + weight_decay · w = " + paren(P.grad) + " + " + num(wd) + " * " +
      paren(P.before) + " = " + num(g) });
    return { g, sym: "g'" };
  }

  /** A state value before the step: 0 (or "none yet") when the optimiser had not made it yet. */
  const before = (P, k) => (P.stateBefore && typeof P.stateBefore[k] === "number" ? P.stateBefore[k] : null);

  function sgd(net, S, P, lines) {
    const d = decayed(S, P, lines), mu = S.momentum || 0;
    if (!mu) {
      lines.push({ label: "", key: "after", value: P.after, text: "after = before - lr · " + d.sym + " = " +
        paren(P.before) + " - " + num(net.lr) + " * " + paren(d.g) + " = " + num(P.after) });
      return;
    }
    const buf = P.state.momentum_buffer, old = before(P, "momentum_buffer"), damp = S.dampening || 0;
    lines.push({ label: "", key: "buffer", value: buf, text: old === null
      ? "buf = " + d.sym + " = " + num(buf) + " (the first step starts the momentum buffer)"
      : "buf = μ · buf_before + " + (damp ? "(1 - dampening) · " : "") + d.sym + " = " + num(mu) + " * " + paren(old) +
        " + " + (damp ? num(1 - damp) + " * " : "") + paren(d.g) + " = " + num(buf) });
    const dir = S.nesterov ? "(" + d.sym + " + μ · buf)" : "buf";
    const terms = S.nesterov ? "(" + paren(d.g) + " + " + num(mu) + " * " + paren(buf) + ")" : paren(buf);
    lines.push({ label: "", key: "after", value: P.after, text: "after = before - lr · " + dir + " = " + paren(P.before) +
      " - " + num(net.lr) + " * " + terms + " = " + num(P.after) });
  }

  function adam(net, S, P, lines) {
    const [b1, b2] = S.betas || [0.9, 0.999], t = P.step, eps = S.eps;
    let w = P.before;
    if (S.decoupled_weight_decay && S.weight_decay) { // AdamW: the weights shrink first, apart from the gradient
      w = P.before * (1 - net.lr * S.weight_decay);
      lines.push({ label: "", text: "w' = before · (1 - lr · weight_decay) = " + paren(P.before) + " * (1 - " + num(net.lr) +
        " * " + num(S.weight_decay) + ") = " + num(w) + " (AdamW's decoupled decay)" });
    }
    const d = decayed(S, P, lines), m = P.state.exp_avg, v = P.state.exp_avg_sq;
    const m0 = before(P, "exp_avg") || 0, v0 = before(P, "exp_avg_sq") || 0;
    lines.push({ label: "", key: "m", value: m, text: "m = β1 · m_before + (1 - β1) · " + d.sym + " = " + num(b1) + " * " +
      paren(m0) + " + " + num(1 - b1) + " * " + paren(d.g) + " = " + num(m) });
    lines.push({ label: "", key: "v", value: v, text: "v = β2 · v_before + (1 - β2) · " + d.sym + "² = " + num(b2) + " * " +
      paren(v0) + " + " + num(1 - b2) + " * " + paren(d.g) + "^2 = " + num(v) });
    let vUsed = v, vName = "v";
    if (S.amsgrad && typeof P.state.max_exp_avg_sq === "number") {
      vUsed = P.state.max_exp_avg_sq;
      vName = "v_max";
      lines.push({ label: "", text: "v_max = max(v_max_before, v) = " + num(vUsed) });
    }
    const mh = m / (1 - Math.pow(b1, t)), vh = vUsed / (1 - Math.pow(b2, t));
    lines.push({ label: "", text: "m̂ = m / (1 - β1^t) = " + paren(m) + " / (1 - " + num(b1) + "^" + t + ") = " + num(mh) +
      " (t = " + t + " steps: the bias correction)" });
    lines.push({ label: "", text: "v̂ = " + vName + " / (1 - β2^t) = " + num(vUsed) + " / (1 - " + num(b2) + "^" + t + ") = " + num(vh) });
    lines.push({ label: "", key: "after", value: P.after, text: "after = " + (w === P.before ? "before" : "w'") +
      " - lr · m̂ / (√v̂ + ε) = " + paren(w) + " - " + num(net.lr) + " * " + paren(mh) + " / (sqrt(" + num(vh) + ") + " +
      num(eps) + ") = " + num(P.after) });
  }

  /** Adagrad (sum of squares) and RMSprop (their running average): the step divides by the root of it. */
  function scaled(net, S, P, lines, key) {
    const d = decayed(S, P, lines), s = P.state[key], s0 = before(P, key) || 0;
    const avg = key === "square_avg", a = S.alpha;
    lines.push({ label: "", key, value: s, text: avg
      ? "v = α · v_before + (1 - α) · " + d.sym + "² = " + num(a) + " * " + paren(s0) + " + " + num(1 - a) + " * " + paren(d.g) + "^2 = " + num(s)
      : "sum = sum_before + " + d.sym + "² = " + paren(s0) + " + " + paren(d.g) + "^2 = " + num(s) });
    const lr = avg ? net.lr : net.lr / (1 + (P.step - 1) * (S.lr_decay || 0)), name = avg ? "v" : "sum";
    lines.push({ label: "", key: "after", value: P.after, text: "after = before - lr · " + d.sym + " / (√" + name + " + ε) = " +
      paren(P.before) + " - " + num(lr) + " * " + paren(d.g) + " / (sqrt(" + num(s) + ") + " + num(S.eps) + ") = " + num(P.after) });
  }

  const RULES = {
    sgd, momentum: sgd, nesterov: sgd, adam, adamw: adam,
    adagrad: (net, S, P, lines) => scaled(net, S, P, lines, "sum"),
    rmsprop: (net, S, P, lines) => scaled(net, S, P, lines, "square_avg"),
  };

  /** The cases written out: the optimiser's settings are known and nothing is left out of the formula. */
  function known(net, S) {
    if (!S || !RULES[net.optimizer]) return false;
    if (S.maximize || (net.optimizer === "rmsprop" && (S.momentum || S.centered))) return false;
    return true;
  }

  function updateRule(net, name, P) {
    const S = net.settings, head = name + ": " + num(P.before) + " -> " + num(P.after) + " (change " + num(P.after - P.before) + ")";
    const lines = [{ label: "update", key: "change", value: P.after - P.before, text: head + " by " + (net.optimizer || "the optimiser") }];
    if (known(net, S)) {
      RULES[net.optimizer](net, S, P, lines);
    } else {
      const parts = Object.keys(P.state).map((k) => k + " = " + num(P.state[k]));
      if (parts.length) lines.push({ label: "", text: "optimiser state after the step: " + parts.join(", ") });
    }
    return lines;
  }

  BP.updateRule = updateRule;
})();
