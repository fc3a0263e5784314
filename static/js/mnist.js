/* MNIST page: loss and accuracy (per evaluation, full-split points marked), validation digits with the
 * model's guesses, the confusion matrix and gradient norms (the drawing pad: draw_pad.js). */
(function () {
  "use strict";
  const C = BP.colors, fmt = BP.fmt;
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

  BP.views.register("curves", () => {
    const loss = new BP.SeriesChart("chart-loss", {
      layout: { xaxis: { title: { text: "step" } }, yaxis: { title: { text: "cross-entropy" } }, hovermode: "x unified" },
    });
    BP.lossTools(loss, "chart-loss");
    const acc = new BP.SeriesChart("chart-acc", {
      layout: { xaxis: { title: { text: "step" } }, yaxis: { title: { text: "accuracy" }, tickformat: ".0%" }, hovermode: "x unified" },
    });
    return {
      reset() {
        loss.reset(series("loss"));
        acc.reset(series("acc"));
      },
      dataset(run, ev) {
        if (ev.baseline) acc.level(ev.baseline.accuracy, "chance " + fmt.pct(ev.baseline.accuracy, 0));
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
      lr(run, ev) {
        loss.marker(ev.step, "lr " + fmt.num(ev.lr, 3));
      },
    };
  });

  BP.views.register("digits", () => {
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
    BP.describe(digitsEl, "Validation digits at step " + fmt.int(ev.step) + ": the model reads " + right + " of " + n + " right.");
      BP.markData(digitsEl);
    }

    return {
      snapshot(run, ev) {
        BP.render.request("digits", () => drawDigits(ev));
      },
    };
  });

  BP.views.register("confusion", () => {
    const confLayout = BP.layout({
      xaxis: { title: { text: "predicted digit" }, type: "category", showgrid: false, ticks: "", side: "bottom" },
      yaxis: { title: { text: "true digit" }, type: "category", showgrid: false, ticks: "", autorange: "reversed" },
      margin: { l: 52, r: 34, t: 8, b: 42 }, showlegend: false,
    });
    const confEl = BP.plot("chart-confusion", [], confLayout);
    function drawConfusion(m) {
      const z = m.map((row) => {
        const s = row.reduce((a, b) => a + b, 0);
        return row.map((v) => (s ? v / s : 0));
      });
      let total = 0, right = 0, worst = null;
    m.forEach((row, t) => row.forEach((v, p) => {
      total += v;
      if (t === p) right += v;
      else if (!worst || v > worst[2]) worst = [t, p, v];
    }));
    BP.describe(confEl, "Confusion matrix of the last evaluation: " + fmt.int(right) + " of " + fmt.int(total) + " images right" +
      (worst && worst[2] ? "; the most frequent mistake: " + worst[0] + " read as " + worst[1] + " (" + worst[2] + " times)." : "."));
    BP.react(confEl, [{
        type: "heatmap", x: DIGITS, y: DIGITS, z, text: m, texttemplate: "%{text}", textfont: { size: 10.5 },
        colorscale: CONF_SCALE, zmin: 0, zmax: 1, showscale: false, xgap: 1, ygap: 1,
        hovertemplate: "true %{y}, predicted %{x}<br>%{text} images (%{z:.1%} of the row)<extra></extra>",
      }], confLayout);
    }

    return {
      snapshot(run, ev) {
        if (ev.confusion) BP.render.request("confusion", () => drawConfusion(ev.confusion));
      },
    };
  });

  BP.views.register("norms", () => BP.normsView(new BP.NormsChart("chart-norms")));
})();
