/* MNIST page: a drawing pad whose digit is sent to the live model after each stroke (and as it learns):
 * MNIST-style preprocessing in the page, the model's class probabilities as bars. */
(function () {
  "use strict";
  const C = BP.colors, fmt = BP.fmt;
  const DIGITS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

  BP.views.register("draw", (page) => {
    const job = () => page.job;
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
      probsEmpty.textContent = job() && job().jobId ? "Draw a digit in the black box." : "Start a run, then draw a digit.";
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
      BP.describe(probsEl, "The model's probabilities for your drawing: " + best + " most likely (" + fmt.pct(p[best], 0) + ").");
    }

    clearPad();
    return {
      dataset() {
        if (!inked) probsEmpty.textContent = "Draw a digit in the black box.";
        else predict();
      },
      snapshot() {
        if (inked && performance.now() - lastPredict > 400) predict(); // the bars follow the model as it learns
      },
      done() {
        if (inked) predict();
      },
    };
  });
})();
