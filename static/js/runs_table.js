/* The Runs page: this browser's table of runs (GET /api/runs with its key, run_log.js), sorted by a column,
 * filtered by text, each run's settings shown where they differ from the baseline (the first run, or the one
 * pinned), final and best numbers, duration; ticked runs overlaid on the chart (runs_chart.js); the baseline
 * repeated over more seeds (one run after another through the socket, each added to the table), the server's
 * groups of runs that differ only by their seed with their mean and spread; CSV download; clearing. */
(function () {
  "use strict";
  const $ = BP.$, $$ = BP.$$, fmt = BP.fmt;
  const SKIP = new Set(["task"]);
  const ENDED = ["finished", "stopped", "failed"];

  const key = BP.runsKey();
  const chart = new BP.RunsChart("runs-chart");
  let rows = [], groups = [], baseline = 0, sort = { col: "index", dir: 1 };
  const ticked = new Set(); // job_id:run

  const id = (r) => r.job_id + ":" + r.run;
  const say = (text, kind) => {
    const m = $("#message");
    m.textContent = text;
    m.dataset.kind = kind || "muted";
  };
  const text = (v) => (v == null ? "–" : Array.isArray(v) ? v.join(",") : typeof v === "object" ? v.name || "data" : String(v));
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

  function metric(r, name) {
    if (name === "index") return r._index;
    if (name === "task") return r.task + " " + r.label;
    if (name === "state") return r.state;
    if (name === "seconds") return r.seconds;
    if (name.startsWith("best_")) return r.best[name.slice(5)];
    return r.final[name];
  }

  function settingsText(r) {
    const base = rows[baseline] ? rows[baseline].settings : {};
    const diffOnly = $("#runs-diff").checked;
    const names = Object.keys(r.settings).filter((k) => !SKIP.has(k) && (!diffOnly || !same(r.settings[k], base[k])));
    if (!names.length) return diffOnly ? (r === rows[baseline] ? "the baseline" : "same settings") : "";
    return names.map((k) => k + " " + text(r.settings[k])).join(", ");
  }

  async function load(reply) {
    const table = reply || await fetch("/api/runs?key=" + encodeURIComponent(key), { credentials: "same-origin" })
      .then((r) => r.json()).catch(() => null);
    if (!table || !table.rows) {
      say("Could not load your runs: the server did not answer.", "error");
      return;
    }
    rows = table.rows.map((r, i) => Object.assign(r, { _index: i }));
    groups = table.groups || [];
    if (baseline >= rows.length) baseline = 0;
    const stored = sessionStorage.getItem("bpnet.runs.baseline");
    const pinned = rows.findIndex((r) => id(r) === stored);
    if (pinned >= 0) baseline = pinned;
    for (const t of Array.from(ticked)) if (!rows.some((r) => id(r) === t)) ticked.delete(t);
    render();
    say(rows.length ? rows.length + " run" + (rows.length === 1 ? "" : "s") + " in your table." : "No runs yet.", "muted");
    document.body.dataset.runs = String(rows.length); // (tests)
  }

  function render() {
    const filter = $("#runs-filter").value.trim().toLowerCase();
    const shown = rows.filter((r) => !filter || [r.task, r.label, r.state, settingsText(r)].join(" ").toLowerCase().includes(filter));
    shown.sort((a, b) => {
      const x = metric(a, sort.col), y = metric(b, sort.col);
      if (x == null && y == null) return 0;
      if (x == null) return 1;
      if (y == null) return -1;
      return (x < y ? -1 : x > y ? 1 : 0) * sort.dir;
    });
    const body = $("#runs-body");
    body.textContent = "";
    for (const r of shown) body.append(line(r));
    $("#runs-empty").hidden = rows.length > 0;
    for (const th of $$("th[data-sort]")) {
      th.setAttribute("aria-sort", th.dataset.sort === sort.col ? (sort.dir > 0 ? "ascending" : "descending") : "none");
    }
    renderGroups();
    drawChart();
  }

  function cell(tr, content, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    if (content instanceof Node) td.append(content);
    else td.textContent = content;
    tr.append(td);
    return td;
  }

  function line(r) {
    const tr = document.createElement("tr");
    tr.dataset.run = id(r);
    tr.classList.toggle("baseline", r === rows[baseline]);
    const tick = document.createElement("input");
    tick.type = "checkbox";
    tick.checked = ticked.has(id(r));
    tick.setAttribute("aria-label", "Overlay run " + (r._index + 1) + " on the chart");
    tick.addEventListener("change", () => {
      if (tick.checked) ticked.add(id(r));
      else ticked.delete(id(r));
      drawChart();
    });
    cell(tr, tick);
    const pin = document.createElement("input");
    pin.type = "radio";
    pin.name = "baseline";
    pin.checked = r === rows[baseline];
    pin.setAttribute("aria-label", "Pin run " + (r._index + 1) + " as the baseline");
    pin.addEventListener("change", () => {
      baseline = r._index;
      sessionStorage.setItem("bpnet.runs.baseline", id(r));
      render();
    });
    cell(tr, pin);
    cell(tr, String(r._index + 1), "num");
    const what = document.createElement("a");
    what.href = "/watch/" + encodeURIComponent(r.job_id);
    what.textContent = r.task + (r.label ? " · " + r.label : "");
    cell(tr, what);
    cell(tr, settingsText(r), "settings mono");
    const num = (v, pct) => (v == null ? "–" : pct ? fmt.pct(v, 1) : fmt.num(v, 4));
    cell(tr, num(r.final.val_loss), "num");
    cell(tr, num(r.best.val_loss), "num");
    cell(tr, num(r.final.val_acc, true), "num");
    cell(tr, num(r.best.val_acc, true), "num");
    cell(tr, r.seconds == null ? "–" : fmt.num(r.seconds, 3) + " s", "num");
    cell(tr, r.state + (r.verdict ? " · " + r.verdict.replace(/_/g, " ") : ""));
    return tr;
  }

  function renderGroups() {
    const box = $("#runs-groups"), list = $("#runs-groups-list");
    list.textContent = "";
    box.hidden = !groups.length;
    for (const g of groups) {
      const li = document.createElement("li");
      const parts = Object.keys(g.mean).filter((m) => m.startsWith("val_")).map((m) =>
        (m === "val_acc" ? "validation accuracy " + fmt.pct(g.mean[m], 1) + " ± " + fmt.pct(g.std[m], 1)
          : "validation loss " + fmt.num(g.mean[m], 4) + " ± " + fmt.num(g.std[m], 2)));
      li.textContent = "Runs " + g.rows.map((i) => "#" + (i + 1)).join(", ") + " (" + rows[g.rows[0]].task + ", seeds " +
        g.seeds.join(", ") + "): " + (parts.join("; ") || "no final metrics") + " (mean ± standard deviation over " + g.n + " runs)";
      list.append(li);
    }
  }

  function drawChart() {
    const items = rows.filter((r) => ticked.has(id(r))).map((r) => ({ row: r, index: r._index,
      color: BP.runColor(r._index), baseline: r === rows[baseline] }));
    chart.draw(items, $("#runs-metric").value, $("#runs-log").checked);
  }

  // --- repeating the baseline over seeds -------------------------------------------------------------
  const conn = new BP.Connection($("#st-conn"), { connect() {}, disconnect() {}, history() {}, events: (list) => onEvents(list) });
  let waiting = null; // {jobId, resolve}
  function onEvents(list) {
    for (const ev of list) {
      if (waiting && ev.job_id === waiting.jobId && ev.type === "state" && ENDED.includes(ev.state)) waiting.resolve(ev);
    }
  }

  async function repeat() {
    const base = rows[baseline];
    if (!base) return say("No baseline to repeat: start a run first.", "warn");
    const n = Math.max(1, Math.min(10, parseInt($("#runs-seeds").value, 10) || 1));
    const used = rows.filter((r) => same(Object.assign({}, r.settings, { seed: 0 }), Object.assign({}, base.settings, { seed: 0 })))
      .map((r) => r.settings.seed);
    let seed = Math.max(...used) + 1;
    const button = $("#runs-repeat");
    button.disabled = true;
    try {
      for (let i = 0; i < n; i++, seed++) {
        const config = Object.assign({}, base.settings, { seed });
        if (config.data && typeof config.data === "object") config.data = config.data.digest; // one's own data, if still kept
        say("Training seed " + seed + " (" + (i + 1) + " of " + n + ")…", "muted");
        const ack = await conn.call("start", { config }, 120000);
        if (!ack.ok) return say("Could not start seed " + seed + ": " + (ack.errors ? Object.entries(ack.errors).map(([k, v]) => k + ": " + v).join("; ") : ack.message), "error");
        await new Promise((resolve) => (waiting = { jobId: ack.job_id, resolve }));
        waiting = null;
        await load(await BP.logRun(ack.job_id));
      }
      say("Repeated over " + n + " more seed" + (n === 1 ? "" : "s") + ": the mean and spread are under the table.", "success");
    } finally {
      button.disabled = false;
    }
  }

  // --- wiring ---------------------------------------------------------------------------------------
  $("#runs-csv").href = "/api/runs.csv?key=" + encodeURIComponent(key);
  $("#runs-filter").addEventListener("input", render);
  $("#runs-diff").addEventListener("change", render);
  $("#runs-metric").addEventListener("change", drawChart);
  $("#runs-log").addEventListener("change", drawChart);
  $("#runs-repeat").addEventListener("click", repeat);
  $("#runs-clear").addEventListener("click", async () => {
    if (!window.confirm("Remove every run from this table? (The runs themselves are not affected.)")) return;
    const resp = await fetch("/api/runs/clear", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ key }), credentials: "same-origin" });
    load(resp.ok ? await resp.json() : null);
  });
  for (const th of $$("th[data-sort]")) {
    th.querySelector("button").addEventListener("click", () => {
      sort = { col: th.dataset.sort, dir: sort.col === th.dataset.sort ? -sort.dir : 1 };
      render();
    });
  }
  BP.runsTable = { load, ticked, rows: () => rows, repeat }; // (the browser tests)
  load();
})();
