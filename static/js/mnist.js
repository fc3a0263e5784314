/* MNIST page: loss and accuracy (per evaluation, full-split points marked), validation digits with the
 * model's guesses, the confusion matrix, gradient norms, and a drawing pad tested against the live model. */
(function () {
  "use strict";
  const C = BP.colors, fmt = BP.fmt;
  const loss = new BP.SeriesChart("chart-loss", {
    layout: { xaxis: { title: { text: "step" } }, yaxis: { title: { text: "cross-entropy" } }, hovermode: "x unified" },
  });
  BP.lossTools(loss, "chart-loss");
  const acc = new BP.SeriesChart("chart-acc", {
    layout: { xaxis: { title: { text: "step" } }, yaxis: { title: { text: "accuracy" }, tickformat: ".0%" }, hovermode: "x unified" },
  });
  const norms = new BP.NormsChart("chart-norms");
  const confLayout = BP.layout({
    xaxis: { title: { text: "predicted digit" }, type: "category", showgrid: false, ticks: "", side: "bottom" },
    yaxis: { title: { text: "true digit" }, type: "category", showgrid: false, ticks: "", autorange: "reversed" },
    margin: { l: 52, r: 34, t: 8, b: 42 }, showlegend: false,
  });
  const confEl = BP.plot("chart-confusion", [], confLayout);
  const CONF_SCALE = [[0, "#ffffff"], [0.03, "#e0e7ff"], [0.15, "#a5b4fc"], [0.45, "#6366f1"], [1, "#312e81"]];
  const DIGITS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

  const marker = (color, symbol, size) => ({ color, symbol, size, line: { color: "#fff", width: 1 } });
  function series(what) {
    const isLoss = what === "loss", fmtY = isLoss ? "%{y:.4f}" : "%{y:.1%}";
    const out = [];
    if (isLoss) {
      out.push({ name: "training, per step", line: { color: "#93c5fd", width: 1.2 }, smooth: true, ghost: true,
        hovertemplate: "per step " + fmtY + "<extra></extra>" });
    }
    out.push(
      { name: "training", mode: "lines+markers", line: { color: C.train, width: 2 }, marker: marker(C.train, "circle", 5),
        hovertemplate: "training " + fmtY + "<extra></extra>" },
      { name: "validation", mode: "lines+markers", line: { color: C.val, width: 2 }, marker: marker(C.val, "circle", 5),
        hovertemplate: "validation " + fmtY + "<extra></extra>" },
      { name: "validation, full split", mode: "markers", marker: marker(C.val, "diamond", 11),
        hovertemplate: "full validation split " + fmtY + "<extra></extra>" });
    return out;
  }

  // --- digits grid ----------------------------------------------------------------------------
  const digitsEl = document.getElementById("digits"), score = document.getElementById("digits-score");
  function drawDigits(ev) {
    const n = ev.digits.length;
    while (digitsEl.children.length > n) digitsEl.lastChild.remove();
    while (digitsEl.children.length < n) {
      const tile = document.createElement("figure");
      tile.className = "digit";
      tile.style.margin = "0";
      const cv = document.createElement("canvas");
      cv.width = cv.height = 28;
      const cap = document.createElement("figcaption");
      cap.className = "cap";
      tile.append(cv, cap);
      digitsEl.append(tile);
    }
    let right = 0;
    ev.digits.forEach((img, k) => {
      const tile = digitsEl.children[k], cv = tile.firstChild, ctx = cv.getContext("2d");
      const data = ctx.createImageData(28, 28);
      for (let i = 0; i < 28; i++) for (let j = 0; j < 28; j++) {
        const v = img[i][j], o = 4 * (i * 28 + j);
        data.data[o] = data.data[o + 1] = data.data[o + 2] = v;
        data.data[o + 3] = 255;
      }
      ctx.putImageData(data, 0, 0);
      const p = ev.pred[k], t = ev.digit_labels[k], ok = p === t;
      right += ok ? 1 : 0;
      tile.classList.toggle("wrong", !ok);
      tile.lastChild.innerHTML = ok ? "<b>" + p + "</b> ✓" : "<b>" + p + "</b> (" + t + ")";
      tile.title = "predicted " + p + " (" + fmt.pct(ev.prob[k], 0) + " sure), true label " + t;
    });
    score.textContent = right + " / " + n + " right";
    BP.markData(digitsEl);
  }

  function drawConfusion(m) {
    const z = m.map((row) => {
      const s = row.reduce((a, b) => a + b, 0);
      return row.map((v) => (s ? v / s : 0));
    });
    BP.react(confEl, [{
      type: "heatmap", x: DIGITS, y: DIGITS, z, text: m, texttemplate: "%{text}", textfont: { size: 10.5 },
      colorscale: CONF_SCALE, zmin: 0, zmax: 1, showscale: false, xgap: 1, ygap: 1,
      hovertemplate: "true %{y}, predicted %{x}<br>%{text} images (%{z:.1%} of the row)<extra></extra>",
    }], confLayout);
  }

  // --- drawing pad ----------------------------------------------------------------------------
  const pad = document.getElementById("draw-canvas"), pctx = pad.getContext("2d", { willReadFrequently: true });
  const preview = document.getElementById("draw-preview"), vctx = preview.getContext("2d");
  const guess = document.getElementById("draw-guess"), probsEmpty = document.getElementById("probs-empty");
  const probsLayout = BP.layout({
    xaxis: { type: "category", title: { text: "digit" }, showgrid: false },
    yaxis: { range: [0, 1], autorange: false, tickformat: ".0%", title: { text: "probability" } },
    margin: { l: 56, r: 34, t: 8, b: 40 }, showlegend: false, bargap: 0.25,
  });
  const probsEl = BP.plot("chart-probs", [], probsLayout);
  let drawing = false, last = null, inked = false, inFlight = false, again = false, lastPredict = 0;

  function clearPad() {
    pctx.fillStyle = "#000";
    pctx.fillRect(0, 0, pad.width, pad.height);
    vctx.fillStyle = "#000";
    vctx.fillRect(0, 0, 28, 28);
    inked = false;
    guess.textContent = "";
    Plotly.react(probsEl, [], probsLayout, BP.plotConfig);
    BP.markData(probsEl, false);
    probsEmpty.textContent = job().jobId ? "Draw a digit in the black box." : "Start a run, then draw a digit.";
  }
  function pos(e) {
    const r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * (pad.width / r.width), (e.clientY - r.top) * (pad.height / r.height)];
  }
  function stroke(a, b) {
    pctx.strokeStyle = "#fff";
    pctx.fillStyle = "#fff";
    pctx.lineWidth = 19;
    pctx.lineCap = pctx.lineJoin = "round";
    pctx.beginPath();
    pctx.moveTo(a[0], a[1]);
    pctx.lineTo(b[0], b[1]);
    pctx.stroke();
    inked = true;
  }
  pad.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    pad.setPointerCapture(e.pointerId);
    drawing = true;
    last = pos(e);
    stroke(last, [last[0] + 0.01, last[1]]);
  });
  pad.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const p = pos(e);
    stroke(last, p);
    last = p;
    if (performance.now() - lastPredict > 150) predict();
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    predict();
  };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  document.getElementById("btn-clear").addEventListener("click", clearPad);

  /** MNIST-style preprocessing: crop to the ink, scale into 20x20 keeping the aspect (area averaging),
   *  centre by the centre of mass in 28x28; white ink on black, grey levels in [0, 1], row by row. */
  function toMnist() {
    const W = pad.width, H = pad.height, src = pctx.getImageData(0, 0, W, H).data;
    const g = new Float32Array(W * H);
    let x0 = W, y0 = H, x1 = -1, y1 = -1;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const v = src[4 * (y * W + x)] / 255;
      g[y * W + x] = v;
      if (v > 0.05) { if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y; }
    }
    if (x1 < 0) return null;
    const bw = x1 - x0 + 1, bh = y1 - y0 + 1, s = 20 / Math.max(bw, bh);
    const tw = Math.max(1, Math.round(bw * s)), th = Math.max(1, Math.round(bh * s));
    const small = new Float32Array(tw * th);
    for (let ty = 0; ty < th; ty++) {
      const sy0 = y0 + (ty * bh) / th, sy1 = y0 + ((ty + 1) * bh) / th;
      for (let tx = 0; tx < tw; tx++) {
        const sx0 = x0 + (tx * bw) / tw, sx1 = x0 + ((tx + 1) * bw) / tw;
        let sum = 0, wsum = 0;
        for (let y = Math.floor(sy0); y < Math.ceil(sy1); y++) {
          const wy = Math.min(y + 1, sy1) - Math.max(y, sy0);
          for (let x = Math.floor(sx0); x < Math.ceil(sx1); x++) {
            const w = wy * (Math.min(x + 1, sx1) - Math.max(x, sx0));
            sum += w * g[y * W + x];
            wsum += w;
          }
        }
        small[ty * tw + tx] = wsum ? sum / wsum : 0;
      }
    }
    let m = 0, mx = 0, my = 0;
    for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) {
      const v = small[y * tw + x];
      m += v; mx += v * (x + 0.5); my += v * (y + 0.5);
    }
    const clamp = (v, hi) => Math.max(0, Math.min(hi, v));
    const ox = clamp(Math.round(14 - mx / m), 28 - tw), oy = clamp(Math.round(14 - my / m), 28 - th);
    const out = new Array(784).fill(0);
    for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) out[(oy + y) * 28 + ox + x] = Math.min(1, small[y * tw + x]);
    return out;
  }

  function showPreview(px) {
    const img = vctx.createImageData(28, 28);
    px.forEach((v, i) => {
      const c = Math.round(255 * v);
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = c;
      img.data[4 * i + 3] = 255;
    });
    vctx.putImageData(img, 0, 0);
  }

  async function predict() {
    if (!inked) return;
    const j = job();
    if (!j.jobId) {
      probsEmpty.textContent = "Start a run first: the model to test is the one training.";
      return;
    }
    if (inFlight) {
      again = true;
      return;
    }
    const px = toMnist();
    if (!px) return;
    showPreview(px);
    inFlight = true;
    lastPredict = performance.now();
    const ack = await j.call("predict", { job_id: j.jobId, pixels: px.map((v) => Math.round(v * 1000) / 1000) });
    inFlight = false;
    if (ack.ok) drawProbs(ack.probs);
    else {
      guess.textContent = BP.cap(ack.message);
    }
    if (again) {
      again = false;
      predict();
    }
  }

  function drawProbs(p) {
    let best = 0;
    p.forEach((v, i) => { if (v > p[best]) best = i; });
    BP.react(probsEl, [{
      type: "bar", x: DIGITS, y: p, marker: { color: p.map((_, i) => (i === best ? C.model : "#c7d2fe")) },
      text: p.map((v) => (v >= 0.01 ? Math.round(100 * v) + "%" : "")), textposition: "outside", cliponaxis: false,
      textfont: { size: 10.5 }, hovertemplate: "digit %{x}: %{y:.1%}<extra></extra>",
    }], probsLayout);
    guess.innerHTML = "Looks like a <b>" + best + "</b> (" + fmt.pct(p[best], 0) + " sure)";
  }

  let page = null;
  const job = () => page.job;
  page = BP.simplePage({
    ...BP.lossAndNorms(loss, norms),
    reset() {
      loss.reset(series("loss"));
      acc.reset(series("acc"));
      norms.reset();
    },
    config(cfg) {
      page.form.fill(cfg);
    },
    dataset(run, ev) {
      norms.layers(ev.layers);
      if (!inked) probsEmpty.textContent = "Draw a digit in the black box.";
      else predict();
    },
    steps(run, ev) {
      loss.push(0, ev.step, ev.loss);
    },
    eval(run, ev) {
      loss.pushOne(1, ev.step, ev.train_loss);
      loss.pushOne(2, ev.step, ev.val_loss);
      acc.pushOne(0, ev.step, ev.train_acc);
      acc.pushOne(1, ev.step, ev.val_acc);
      if (ev.split === "full") {
        loss.pushOne(3, ev.step, ev.val_loss);
        acc.pushOne(2, ev.step, ev.val_acc);
      }
    },
    snapshot(run, ev) {
      BP.render.request("digits", () => drawDigits(ev));
      if (ev.confusion) BP.render.request("confusion", () => drawConfusion(ev.confusion));
      if (inked && performance.now() - lastPredict > 400) predict(); // the bars follow the model as it learns
    },
    done() {
      if (inked) predict();
    },
  });
  clearPad();
})();
