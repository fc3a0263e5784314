/* Compare page: runs that differ in one setting, overlaid (loss, accuracy or fit), a results table and
 * per-run gradient norms on one shared log scale. */
(function () {
  "use strict";
  const C = BP.colors, fmt = BP.fmt, comparisons = BP.data.comparisons, escapeHtml = BP.escapeHtml;
  const nameSel = document.getElementById("cmp-name"), taskSel = document.getElementById("cmp-task");
  const forms = {
    mnist: new BP.SettingsForm(document.getElementById("form-cmp-mnist")),
    function: new BP.SettingsForm(document.getElementById("form-cmp-function")),
  };
  const form = () => forms[taskSel.value];

  // --- the comparison's base settings ----------------------------------------------------------
  function baseConfig(name, task) {
    return comparisons[name].defaults[task]; // the engine's comparison_defaults(name, task)
  }
  function describe() {
    const c = comparisons[nameSel.value];
    document.getElementById("cmp-shows").textContent = "Shows " + c.shows + ".";
    document.getElementById("cmp-runs").innerHTML = "Runs: " + c.labels.map((l, i) => // the colour on a swatch: text stays dark (contrast)
      '<b><span class="swatch" style="background:' + BP.runColor(i) + '"></span>' + escapeHtml(l) + "</b>").join(" · ");
    for (const f of Object.values(forms)) f.setVaries(c.varies, "set per run: " + c.labels.join(" · "));
  }
  function selectTask() {
    for (const [task, f] of Object.entries(forms)) f.form.hidden = task !== taskSel.value;
  }
  function loadDefaults() {
    for (const task of Object.keys(forms)) {
      forms[task].fill(baseConfig(nameSel.value, task));
      forms[task].markBaseline(); // what a link to the setup leaves out
    }
    describe();
  }
  nameSel.addEventListener("change", loadDefaults);
  taskSel.addEventListener("change", selectTask);
  loadDefaults();
  selectTask();

  // --- charts ---------------------------------------------------------------------------------
  const loss = new BP.SeriesChart("chart-loss", {
    layout: { xaxis: { title: { text: "step" } }, yaxis: { title: { text: "loss" } }, hovermode: "x unified" },
  });
  BP.lossTools(loss, "chart-loss");
  const second = new BP.SeriesChart("chart-acc", {
    layout: { xaxis: { title: { text: "step" } }, yaxis: { title: { text: "validation accuracy" }, tickformat: ".0%" }, hovermode: "x unified" },
  });
  const secondCard = document.getElementById("chart-acc").closest(".chart-card");
  const multiples = document.getElementById("norm-multiples");
  const tbody = document.querySelector("#results tbody");
  let runs = [], task = "mnist", normCharts = [], normRange = null, fitData = null, fitPreds = [];
  let known = []; // {label, dataset} per run: from the history, or from the dataset events of a job that began after it
  const fitLayout = BP.layout({ xaxis: { title: { text: "x" } }, yaxis: { title: { text: "y" } }, hovermode: "closest" });

  function lossIndex(run, kind) { // per run: 0 training (per step), 1 validation, 2 validation full split (MNIST)
    return run * 3 + kind;
  }

  function setup(list) {
    if (list.length) task = list[0].dataset.task;
    runs = list.map((r, i) => ({ label: r.label || "run " + (i + 1), color: BP.runColor(i), final: null, failed: "" }));
    const specs = [];
    runs.forEach((r) => {
      specs.push({ name: r.label, legendgroup: r.label, line: { color: r.color, width: 1.8 }, smooth: true, ghost: true,
        hovertemplate: r.label + " training %{y:.4g}<extra></extra>" });
      specs.push({ name: r.label + " · validation", legendgroup: r.label, showlegend: false,
        mode: task === "mnist" ? "lines+markers" : "lines", line: { color: r.color, width: 1.8, dash: "dot" },
        marker: { color: r.color, size: 4 }, hovertemplate: r.label + " validation %{y:.4g}<extra></extra>" });
      specs.push({ name: r.label + " · full split", legendgroup: r.label, showlegend: false, mode: "markers",
        marker: { color: r.color, size: 9, symbol: "diamond", line: { color: "#fff", width: 1 } },
        hovertemplate: r.label + " full validation split %{y:.4g}<extra></extra>" });
    });
    loss.reset(specs);
    const h2 = secondCard.querySelector("h2"), sub = secondCard.querySelector(".sub");
    if (task === "mnist") {
      h2.textContent = "Validation accuracy per run";
      sub.textContent = "dots: validation subset; diamonds: whole validation split";
      second.reset([].concat(...runs.map((r) => [
        { name: r.label, legendgroup: r.label, mode: "lines+markers", line: { color: r.color, width: 2 }, marker: { color: r.color, size: 4 },
          hovertemplate: r.label + " %{y:.1%}<extra></extra>" },
        { name: r.label + " · full split", legendgroup: r.label, showlegend: false, mode: "markers",
          marker: { color: r.color, size: 9, symbol: "diamond", line: { color: "#fff", width: 1 } },
          hovertemplate: r.label + " full split %{y:.1%}<extra></extra>" },
      ])));
    } else {
      h2.textContent = "Each run's fit";
      sub.textContent = "the target (grey) and every run's current curve";
      second.reset([]);
    }
    fitData = null;
    fitPreds = runs.map(() => null);
    // small multiples of gradient norms, one per run
    multiples.querySelectorAll(".multiple").forEach((el) => el.remove());
    document.getElementById("layer-legend").innerHTML = "";
    normRange = null;
    normCharts = runs.map((r, i) => {
      const box = document.createElement("div");
      box.className = "multiple";
      box.innerHTML = '<h3><span class="swatch" style="background:' + r.color + '"></span>' + escapeHtml(r.label) + '</h3><div class="chart" id="norms-run-' + i + '"></div>';
      multiples.append(box);
      return { chart: new BP.SeriesChart("norms-run-" + i, { maxPoints: 800, layout: {
        xaxis: { title: { text: "step" } }, yaxis: { type: "log", title: { text: "‖gradient‖" }, exponentformat: "power", dtick: 1 },
        margin: { l: 54, r: 34, t: 10, b: 40 }, showlegend: false } }), names: null };
    });
    document.getElementById("results").classList.toggle("no-acc", task !== "mnist");
    renderResults();
  }

  function drawFit() {
    if (!fitData) return;
    const traces = [{ type: "scatter", mode: "lines", name: "target", x: fitData.x_grid, y: fitData.y_grid, line: { color: C.target, width: 3 },
      hovertemplate: "target %{y:.4g}<extra></extra>" }];
    fitPreds.forEach((p, i) => {
      if (p) traces.push({ type: "scatter", mode: "lines", name: runs[i].label, x: fitData.x_grid, y: p, line: { color: runs[i].color, width: 2 },
        hovertemplate: runs[i].label + " %{y:.4g}<extra></extra>" });
    });
    BP.react("chart-acc", traces, fitLayout);
    BP.describe("chart-acc", "Each run's fit of the target " + fitData.config.formula + ": " + runs.map((r, i) =>
      r.label + (fitPreds[i] ? " mean squared distance " + fmt.num(fitPreds[i].reduce((a, v, j) => a + (v - fitData.y_grid[j]) ** 2, 0) / fitPreds[i].length)
        : " not drawn yet")).join("; ") + ".");
  }

  function pushNorms(run, ev) {
    const nc = normCharts[run];
    if (!nc) return;
    if (!nc.names) {
      nc.names = ev.names;
      if (run === 0) layerLegend(ev.names);
      nc.chart.reset(ev.names.map((n, i) => ({ name: BP.layerName(n),
        line: { color: BP.layerColor(i, ev.names.length), width: 1.5 }, hovertemplate: n + " %{y:.3g}<extra>step %{x}</extra>" })));
    }
    let lo = Infinity, hi = -Infinity;
    ev.grad.forEach((g, i) => {
      const ok = BP.finite(g) && g > 0;
      nc.chart.pushOne(i, ev.step, ok ? g : null);
      if (ok) { lo = Math.min(lo, g); hi = Math.max(hi, g); }
    });
    if (isFinite(lo)) widenRange(Math.log10(lo), Math.log10(hi));
  }

  /** The layers' colours, once for all the small charts. */
  function layerLegend(names) {
    const el = document.getElementById("layer-legend");
    el.innerHTML = names.map((n, i) => '<span><i style="background:' + BP.layerColor(i, names.length) + '"></i>' +
      escapeHtml(BP.layerName(n)) + (i === 0 ? " (first)" : i === names.length - 1 ? " (last)" : "") + "</span>").join("");
  }

  /** One log range for every run's chart, widened in half decades so it rarely changes. */
  function widenRange(lo, hi) {
    const r = normRange ? [Math.min(normRange[0], Math.floor(lo * 2) / 2), Math.max(normRange[1], Math.ceil(hi * 2) / 2)]
      : [Math.floor(lo * 2) / 2, Math.ceil(hi * 2) / 2];
    if (r[1] - r[0] < 1) r[1] = r[0] + 1;
    if (normRange && r[0] === normRange[0] && r[1] === normRange[1]) return;
    normRange = r;
    for (const nc of normCharts) {
      nc.chart.layout.yaxis = BP.merge(nc.chart.layout.yaxis, { range: r.slice(), autorange: false });
      nc.chart.dirty = true;
      nc.chart.request();
    }
  }

  function renderResults() {
    BP.render.request("results", () => {
      const done = runs.filter((r) => r.final);
      const bestAcc = Math.max(...done.map((r) => (BP.finite(r.final.val_acc) ? r.final.val_acc : -1)));
      const bestLoss = Math.min(...done.map((r) => (BP.finite(r.final.val_loss) ? r.final.val_loss : Infinity)));
      tbody.innerHTML = "";
      for (const r of runs) {
        const tr = document.createElement("tr");
        const f = r.final || {};
        const cell = (text, best) => '<td' + (best ? ' class="best"' : "") + ">" + text + "</td>";
        const name = '<td><span class="swatch" style="background:' + r.color + '"></span>' + escapeHtml(r.label) + "</td>";
        if (r.failed) {
          tr.className = "failed";
          tr.innerHTML = name + '<td colspan="6" style="text-align:left">' + escapeHtml(r.failed) + "</td>";
        } else if (!r.final) {
          tr.innerHTML = name + '<td colspan="6" style="text-align:left;color:#64748b">training…</td>';
        } else {
          tr.innerHTML = name + cell(fmt.int(f.steps)) + cell(fmt.num(f.train_loss, 4)) +
            cell(fmt.num(f.val_loss, 4), done.length > 1 && f.val_loss === bestLoss) +
            cell(BP.finite(f.val_acc) ? fmt.pct(f.val_acc) : "–", done.length > 1 && f.val_acc === bestAcc) +
            cell(BP.finite(f.test_acc) ? fmt.pct(f.test_acc) : "–") + cell(fmt.dur(f.seconds));
        }
        tbody.append(tr);
      }
      BP.markData(tbody.closest("table"), runs.length > 0); // the rows say "training…" until each run ends
    });
  }

  BP.page.setup({
    form,
    payload: () => ({ comparison: nameSel.value, config: form().values() }),
    resetForm: loadDefaults,
    onControls: (locked) => {
      nameSel.disabled = taskSel.disabled = locked;
    },
    applySetup(setup) { // a link's comparison and base experiment, before its settings go in
      nameSel.value = setup.comparison;
      taskSel.value = setup.task;
      loadDefaults();
      selectTask();
    },
    linkParams: () => ({ comparison: nameSel.value, task: taskSel.value }),
  });
  BP.views.register("compare", () => ({
    reset(n, history) {
      known = history.runs.map((r) => ({ label: r.label, dataset: r.dataset }));
      setup(known); // none yet when a worker process or machine has not begun the job: its dataset events follow
    },
    config(cfg, history) {
      const name = (history.kind || "").replace(/^compare:/, "");
      if (comparisons[name]) nameSel.value = name;
      taskSel.value = cfg.task in forms ? cfg.task : "mnist";
      selectTask();
      describe();
      form().fill(cfg);
    },
    dataset(run, ev) {
      if (!known[run]) { // the job began after its history was sent: the runs come one by one, before any step
        known[run] = { label: ev.label, dataset: ev };
        setup(known.filter(Boolean));
      }
      if (runs[run]) runs[run].label = ev.label || runs[run].label;
      if (run === 0 && ev.task === "mnist" && ev.baseline) second.level(ev.baseline.accuracy, "chance " + fmt.pct(ev.baseline.accuracy, 0));
      if (ev.task === "function" && !fitData) {
        fitData = ev;
        fitLayout.yaxis = BP.merge(fitLayout.yaxis, { autorange: true });
        BP.render.request("cmpfit", drawFit);
      }
    },
    steps(run, ev) {
      loss.push(lossIndex(run, 0), ev.step, ev.loss);
      if (ev.val_loss && task !== "mnist") loss.push(lossIndex(run, 1), ev.step, ev.val_loss);
    },
    eval(run, ev) {
      loss.pushOne(lossIndex(run, 1), ev.step, ev.val_loss);
      second.pushOne(run * 2, ev.step, ev.val_acc);
      if (ev.split === "full") {
        loss.pushOne(lossIndex(run, 2), ev.step, ev.val_loss);
        second.pushOne(run * 2 + 1, ev.step, ev.val_acc);
      }
    },
    snapshot(run, ev) {
      if (ev.y_pred) {
        fitPreds[run] = ev.y_pred;
        BP.render.request("cmpfit", drawFit);
      }
    },
    norms(run, ev) {
      pushNorms(run, ev);
    },
    lr(run, ev) {
      if (run === 0) loss.marker(ev.step, "lr " + fmt.num(ev.lr, 3));
    },
    done(run, ev) {
      if (!runs[run]) return;
      if (ev.failed) runs[run].failed = ev.failed;
      else runs[run].final = ev;
      renderResults();
    },
  }));
})();
