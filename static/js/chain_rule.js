/* The chain rule with the X-ray's numbers plugged in, for one unit or one weight of the diagram: plain text a
 * student can copy into a worksheet (the arithmetic in ASCII, so it pastes into a calculator), e.g.
 *
 *   δ_2,3 = (Σ_k W3[k,3] · δ_3,k) · f'(z_2,3) = (0.41 * (-0.12) + 0.2 * 0.33) * 0.83 = -0.052
 *
 * Every number is the X-ray's (BP.xray): the sums are the network's own terms, and their results are the
 * network's values (dL/da, delta, dL/dW), written beside the sum they equal. f'(z) is the activation's
 * derivative from the unit's a and z, as the library's backward multiplies by it. The gradients are those of
 * the batch's loss: for a mean loss each sample's delta carries its 1/N, so dL/dW sums a * delta over the batch.
 *
 * BP.chainRule.unit(net, l, j, sample) and .weight(net, l, j, i, sample) return {title, lines, value}; each
 * line is {label, text} and the text of a sum reads "name = formula = (terms) = result".
 * BP.ChainRuleView(el) shows one of them with a Copy button.
 */
(function () {
  "use strict";
  const X = BP.xray, num = X.num, N = X.names;

  const paren = (v) => (v < 0 ? "(" + num(v) + ")" : num(v));
  /** "0.41 * (-0.12) + 0.2 * 0.33": products of pairs, as typed into a calculator. */
  const products = (pairs) => pairs.map(([a, b]) => paren(a) + " * " + paren(b)).join(" + ") || "0";
  const plus = (vals) => vals.map(paren).join(" + ") || "0";
  const sampleWord = (s) => (s === "batch" ? "the batch" : "sample " + (s + 1));

  /** The loss's derivative for one output unit of one sample: {text, value} (CrossEntropy or MSE). */
  function outputDelta(net, L, j, s) {
    const per = net.reduction === "mean", n = net.n, z = L.z[s];
    if (net.lossFn === "CrossEntropyLoss") {
      const m = Math.max(...z), e = z.map((v) => Math.exp(v - m)), tot = X.sum(e), p = e[j] / tot;
      const t = net.y[s] === j ? 1 : 0;
      return {
        formula: "(p_" + (j + 1) + " - t_" + (j + 1) + ")" + (per ? " / N" : ""),
        terms: "(" + num(p) + " - " + t + ")" + (per ? " / " + n : ""),
        note: "p = softmax(z_" + L.number + ") of this sample, t_" + (j + 1) + " = " + t + " (its class is " +
          net.y[s] + "; output " + (j + 1) + " is class " + j + ")" + (per ? "; N = " + n + " samples (the mean loss)" : ""),
      };
    }
    const yv = Array.isArray(net.y[s]) ? net.y[s][j] : net.y[s], count = per ? n * L.width : 1;
    return {
      formula: "2 * (ŷ - y)" + (per ? " / " + (L.width > 1 ? "(N * outputs)" : "N") : ""),
      terms: "2 * (" + num(L.a[s][j]) + " - " + paren(yv) + ")" + (per ? " / " + count : ""),
      note: "ŷ = the network's output, y = the target" + (per ? "; N = " + n + " samples (the mean squared error)" : ""),
    };
  }

  /** The chain rule of unit j (0-based) of layer l (1-based) for a sample (index) or "batch". */
  function unit(net, l, j, sample) {
    const L = net.layers[l - 1], u = N.unit(l, j + 1), lines = [];
    const title = (l === net.layers.length ? "Output " : "Unit ") + u + " (" + BP.layerName(L.name) + ", unit " +
      (j + 1) + "), " + sampleWord(sample);
    if (sample === "batch") {
      const ds = X.col(L.delta, j), value = X.unitValue(L, "delta", j, "batch");
      lines.push({ label: "forward", text: "mean over the batch: z_" + u + " = " + num(X.unitValue(L, "z", j, "batch")) +
        (L.actType ? ", a_" + u + " = " + num(X.unitValue(L, "a", j, "batch")) : "") });
      lines.push({ label: "backward", key: "delta", value,
        text: "δ_" + u + " over the batch = Σ_n δ_" + u + "[n] = (" + plus(ds) + ") = " + num(value) });
      if (L.b) lines.push({ label: "", text: "= dL/d" + N.bias(l, j + 1) + " = " + num(L.b.grad[j]) + " (the network's bias gradient)" });
      lines.push({ label: "", text: "Pick a sample to see how each δ_" + u + "[n] is made." });
      return { title, lines, value };
    }
    const s = sample, prev = l - 1, W = L.W.before[j];
    const ins = L.input[s], z = L.z[s][j], a = L.a[s][j];
    const zTerms = W.map((w, i) => [w, ins[i]]);
    const bias = L.b ? L.b.before[j] : 0;
    lines.push({ label: "forward", key: "z", value: z,
      text: "z_" + u + " = Σ_i " + N.weight(l, j + 1, "i") + " · " + (prev ? "a_" + prev + ",i" : "x_i") +
        (L.b ? " + " + N.bias(l, j + 1) : "") + " = " + products(zTerms) + (L.b ? " + " + paren(bias) : "") + " = " + num(z) });
    if (L.actType) {
      const inner = L.norm && L.norm.length ? L.norm.map((t) => t.toLowerCase()).join("(") + "(z_" + u + ")" + ")".repeat(L.norm.length - 1)
        : "z_" + u;
      lines.push({ label: "", text: "a_" + u + " = " + L.actType.toLowerCase() + "(" + inner + ") = " + num(a) +
        (inner !== "z_" + u ? " (the batch norm standardises z over the batch first)" : "") });
    }
    if (!net.hasGrad) return { title, lines, value: z };
    const d = L.delta[s][j];
    if (l === net.layers.length && !L.actType) {
      const o = outputDelta(net, L, j, s);
      lines.push({ label: "backward", key: "delta", value: d,
        text: "δ_" + u + " = dL/dz_" + u + " = " + o.formula + " = " + o.terms + " = " + num(d) });
      lines.push({ label: "", text: o.note });
      return { title, lines, value: d };
    }
    if (!L.simple || l === net.layers.length) {
      const through = L.others.map((m) => m.type), mixes = through.some((t) => t.startsWith("BatchNorm"));
      lines.push({ label: "backward", key: "delta", value: d, text: "δ_" + u + " = dL/dz_" + u + " = " + num(d) +
        " (through " + through.join(", ") + (mixes ? ", which mixes the batch's samples" : "") + ": the network's value)" });
      return { title, lines, value: d };
    }
    const up = net.layers[l], k = l + 1, dA = L.dA[s][j], fp = X.DERIVATIVES[L.actType];
    const back = up.W.before.map((row, kk) => [row[j], up.delta[s][kk]]);
    const f = fp.fn(z, a);
    lines.push({ label: "backward", key: "delta", value: d,
      text: "δ_" + u + " = (Σ_k " + N.weight(k, "k", j + 1) + " · δ_" + k + ",k) · f'(z_" + u + ") = (" + products(back) +
        ") * " + paren(f) + " = " + num(d) });
    lines.push({ label: "", key: "dA", value: dA, text: "where Σ_k " + N.weight(k, "k", j + 1) + " · δ_" + k + ",k = dL/da_" + u +
      " = (" + products(back) + ") = " + num(dA) });
    lines.push({ label: "", text: "and f'(z_" + u + ") = " + fp.text + " = " + paren(f) + " (" + L.actType + ")" +
      (net.reduction === "mean" ? "; δ of one sample carries the 1/N of the batch's mean loss" : "") });
    return { title, lines, value: d };
  }

  /** The chain rule of weight Wl[j,i] (unit j from input i, 0-based) for a sample or "batch". */
  function weight(net, l, j, i, sample) {
    const L = net.layers[l - 1], name = N.weight(l, j + 1, i + 1), src = N.a(l - 1, i + 1), u = N.unit(l, j + 1);
    const title = "Weight " + name + " (" + BP.layerName(L.name) + ": from " + src + " to unit " + u + "), " + sampleWord(sample);
    const W = L.W, lines = [];
    lines.push({ label: "forward", key: "before", value: W.before[j][i], text: name + " = " + num(W.before[j][i]) + " (before this step)" });
    if (!net.hasGrad) return { title, lines, value: W.before[j][i] };
    const pairs = L.input.map((row, n) => [row[i], L.delta[n][j]]), g = W.grad[j][i];
    if (sample !== "batch") {
      const s = sample;
      lines.push({ label: "this sample", key: "share", value: L.input[s][i] * L.delta[s][j],
        text: src + " · δ_" + u + " = " + products([pairs[s]]) + " = " + num(L.input[s][i] * L.delta[s][j]) });
    }
    lines.push({ label: "backward", key: "grad", value: g,
      text: "dL/d" + name + " = Σ_n " + src + "[n] · δ_" + u + "[n] = " + products(pairs) + " = " + num(g) });
    if (net.reduction === "mean") {
      lines.push({ label: "", text: "(each δ carries the 1/N of the mean loss, N = " + net.n + ": this is the batch's average of " +
        src + " · dL_n/dz_" + u + ")" });
    }
    lines.push(...update(net, W, j, i, name, g));
    return { title, lines, value: g };
  }

  /** One scalar of a parameter's optimiser state (arrays indexed by `at`, counts such as Adam's step as they are). */
  function stateAt(state, at) {
    const out = {};
    for (const [k, v] of Object.entries(state || {})) out[k] = Array.isArray(v) ? at(v) : v;
    return out;
  }

  /** The optimiser's step on weight W[j][i], its textbook update with the numbers (update_rule.js). */
  function update(net, W, j, i, name, g) {
    const at = (a) => a[j][i], state = stateAt(W.state, at);
    return BP.updateRule(net, name, { before: W.before[j][i], grad: g, after: W.after[j][i], state,
      stateBefore: stateAt(W.state_before, at), step: state.step });
  }

  /** The whole entry as text: a title line, then each line (labelled ones start a block). */
  function text(entry) {
    return [entry.title].concat(entry.lines.map((ln) => (ln.label ? ln.label + ": " : "  ") + ln.text)).join("\n");
  }

  /** A panel showing one entry: title, the lines in large monospace, a Copy button. */
  class ChainRuleView {
    constructor(el) {
      this.el = el;
      el.innerHTML = '<div class="cr-head"><h3 class="cr-title">Click a unit or a weight of the diagram</h3>' +
        '<button type="button" class="btn small cr-copy" disabled>Copy</button></div><pre class="cr-text" tabindex="0"></pre>';
      this.title = el.querySelector(".cr-title");
      this.pre = el.querySelector(".cr-text");
      this.copyBtn = el.querySelector(".cr-copy");
      this.copyBtn.addEventListener("click", () => this.copy());
      this.entry = null;
    }
    show(entry) {
      this.entry = entry;
      this.title.textContent = entry ? entry.title : "Click a unit or a weight of the diagram";
      this.pre.textContent = entry ? entry.lines.map((ln) => (ln.label ? ln.label + ": " : "  ") + ln.text).join("\n") : "";
      this.copyBtn.disabled = !entry;
      this.copyBtn.textContent = "Copy";
    }
    async copy() {
      if (!this.entry) return;
      const t = text(this.entry);
      try {
        await navigator.clipboard.writeText(t);
        this.copyBtn.textContent = "Copied";
      } catch (e) { // no clipboard (an insecure origin): select the text for Ctrl+C
        const r = document.createRange();
        r.selectNodeContents(this.pre);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(r);
        this.copyBtn.textContent = "Selected: Ctrl+C";
      }
    }
  }

  BP.chainRule = { unit, weight, text };
  BP.ChainRuleView = ChainRuleView;
})();
