/* The X-ray panel (templates/_xray.html): one training step of the page's job, every number as the network
 * computed it (docs/xray.md). It asks the job for its X-ray (the `xray` socket call) when one is ready
 * (`xray_ready` events; while a job runs, at most about once a second and only while the panel is open, so
 * it costs nothing when nobody looks), and shows it as
 *   - the diagram (net_diagram.js) in the forward, backward or update view, for one sample or the batch;
 *   - the chain rule of the unit or weight picked (or under the mouse), with the numbers plugged in (chain_rule.js);
 *   - the picked unit's numbers on every sample and its incoming weights before / dL/dw / after (xray_tables.js);
 *   - Play: the forward pass column by column, then the backward pass from the outputs back, then the update.
 * BP.xrayPanel.show(xray) shows an X-ray given directly (the tests give a real one made by the library).
 */
(function () {
  "use strict";
  const $ = BP.$, X = BP.xray, num = X.num;
  const PHASE_MS = 650;

  class XrayPanel {
    constructor(page) {
      this.page = page;
      this.card = $("#xray");
      this.xr = null;
      this.net = null;
      this.view = "forward";
      this.sample = "batch";
      this.sel = null;
      this.played = []; // the phases the last Play went through (the tests read it)
      this.lastAsk = 0;
      this.el = { summary: $("#xray-summary"), note: $("#xray-note"), select: $("#xray-sample"), play: $("#xray-play"),
        unitTable: $("#xray-unit-table"), weightTable: $("#xray-weight-table"), badge: $("#xray-badge") };
      this.diagram = new BP.NetDiagram($("#xray-diagram"), (s) => this.select(s, true));
      this.diagram.onHover = (s) => this._explain(s || this.sel); // a preview: the selection comes back on leaving
      this.chain = new BP.ChainRuleView($("#xray-chain"));
      for (const r of BP.$$("input[name=xray-view]", this.card)) r.addEventListener("change", () => r.checked && this.setView(r.value));
      this.el.select.addEventListener("change", () => this.setSample(this.el.select.value === "batch" ? "batch" : +this.el.select.value));
      this.el.play.addEventListener("click", () => this.play());
      this.card.addEventListener("toggle", () => this.card.open && this.ask());
      this.note("No step to show yet: press Start, then Step (or Pause a run) to see one training step in full.");
    }

    get open() {
      return !this.card.matches("details") || this.card.open;
    }

    note(text) {
      this.el.note.textContent = text || "";
      this.el.note.hidden = !text;
    }

    /** Ask the job for its latest X-ray (one request at a time; a request made meanwhile follows). */
    async ask() {
      const job = this.page.job;
      if (!job || !job.jobId || !this.open) return;
      if (this.busy) return void (this.again = true);
      this.busy = true;
      this.lastAsk = performance.now();
      const ack = await job.call("xray", { job_id: job.jobId, run: 0 });
      this.busy = false;
      if (ack && ack.xray) {
        this.retries = 0;
        this.show(ack.xray);
      } else if (!this.xr) {
        this.note((ack && ack.message ? BP.cap(ack.message) + "." : "No X-ray yet.").replace(/\.\.$/, "."));
      } else if ((this.retries = (this.retries || 0) + 1) <= 3) {
        this.askSoon(); // refused (4 requests a second at most): the step shown may be an older one, ask again
      }
      if (this.again) {
        this.again = false;
        this.ask();
      }
    }

    /** Ask at most about once a second: now, or when a second has passed since the last request (so the
     *  latest X-ray is always fetched in the end, however fast they come). */
    askSoon() {
      const wait = 1000 - (performance.now() - this.lastAsk);
      if (wait <= 0) return this.ask();
      if (!this.soon) this.soon = setTimeout(() => { this.soon = null; this.ask(); }, wait);
    }

    /** Show an X-ray (the JSON of docs/xray.md). */
    show(xr) {
      this.stop();
      this.xr = xr;
      this.net = X.build(xr);
      const n = this.net;
      this.el.badge.textContent = xr && xr.step !== undefined ? "step " + xr.step : "";
      this.el.summary.textContent = xr ? "step " + xr.step + " · minibatch loss " + num(xr.loss) + " · lr " + num(xr.lr) +
        (xr.optimizer ? " · " + xr.optimizer : "") + (xr.sample_count || xr.x ? " · batch of " + (xr.sample_count || xr.x.length) : "") : "";
      this.el.summary.dataset.loss = xr ? String(xr.loss) : "";
      this.card.classList.toggle("summary", !!(xr && xr.summary)); // no diagram: no views, samples or chain rule
      X.shown(xr);
      if (!n) {
        this.note(xr && xr.summary ? "This network is too big to draw unit by unit: see the pictures of its weights and gradients." : "");
        this.diagram.draw(null);
        this.chain.show(null);
        this.el.weightTable.textContent = "";
        this.el.unitTable.textContent = "";
        if (xr && xr.summary && Array.isArray(xr.layers)) BP.xrayTables.summary(this.el.unitTable, xr);
        return;
      }
      this.note(n.hasGrad ? "" : "Step " + xr.step + " has not run its backward pass yet: the forward view only. Press Step.");
      if (this.sample !== "batch" && this.sample >= n.n) this.sample = "batch";
      this._samples();
      if (this.sel && !this._valid(this.sel)) this.sel = null;
      if (!this.sel) this.sel = { kind: "unit", l: n.layers.length, j: 0 }; // the output first: where backprop starts
      this.redraw();
    }

    _valid(s) {
      const n = this.net, L = n.layers[s.l - 1];
      if (s.kind === "input") return s.j < n.inputs;
      return !!L && s.j < L.width && (s.kind !== "weight" || s.i < L.fanIn);
    }

    _samples() {
      const s = this.el.select, n = this.net, y = (v) => (Array.isArray(v) ? "(" + v.map(num).join(", ") + ")" : num(v));
      s.textContent = "";
      s.add(new Option("the batch (" + n.n + " samples: mean of z and a, sum of δ)", "batch"));
      for (let i = 0; i < n.n; i++) s.add(new Option("sample " + (i + 1) + ": x = (" + n.x[i].map(num).join(", ") + "), y = " + y(n.y[i]), String(i)));
      s.value = String(this.sample);
    }

    setView(view) {
      this.stop();
      this.view = view;
      for (const r of BP.$$("input[name=xray-view]", this.card)) r.checked = r.value === view;
      this.redraw();
    }

    setSample(sample) {
      this.sample = sample;
      this.el.select.value = String(sample);
      this.redraw();
    }

    /** Pick a unit, an input or a weight: its chain rule and tables. */
    select(sel, fromDiagram) {
      this.sel = sel;
      this.diagram.mark(sel);
      this._explain();
      this._tables();
      if (fromDiagram && sel.kind !== "weight") this.diagram.focus(sel.l, sel.j);
    }

    redraw() {
      const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest(".net-node");
      this.diagram.draw(this.net, this.view, this.sample);
      if (this.sel) this.diagram.mark(this.sel);
      if (focused) this.diagram.focus(+focused.dataset.l, +focused.dataset.j);
      this._explain();
      this._tables();
    }

    _explain(which) {
      const n = this.net, s = which || this.sel;
      if (!n || !s) return this.chain.show(null);
      if (s.kind === "input") {
        return this.chain.show({ title: "Input x_" + (s.j + 1), lines: [{ label: "forward", key: "x", value: X.inputValue(n, s.j, this.sample),
          text: "x_" + (s.j + 1) + " = " + num(X.inputValue(n, s.j, this.sample)) + (this.sample === "batch" ? " (mean over the batch)" : "") +
            " (as the first layer receives it, after the input normalisation)" }] });
      }
      const entry = s.kind === "weight" ? BP.chainRule.weight(n, s.l, s.j, s.i, this.sample) : BP.chainRule.unit(n, s.l, s.j, this.sample);
      this.chain.show(entry);
    }

    _tables() {
      const n = this.net, s = this.sel, l = s && s.kind !== "input" ? s.l : 0;
      BP.xrayTables.unit(this.el.unitTable, n, l, s ? s.j : 0, this.sample, (v) => this.setSample(v));
      BP.xrayTables.weights(this.el.weightTable, n, l, s ? s.j : 0, (i) => this.select({ kind: "weight", l, j: s.j, i }));
    }

    /** Play: forward column by column, backward from the outputs back, then the update. */
    play() {
      if (!this.net) return;
      this.stop();
      const cols = this.net.layers.length, phases = [];
      for (let c = 0; c <= cols; c++) phases.push({ view: "forward", shown: (k) => k <= c, name: "forward " + c });
      if (this.net.hasGrad) {
        for (let c = cols; c >= 1; c--) phases.push({ view: "backward", shown: (k) => k >= c, name: "backward " + c });
        phases.push({ view: "update", shown: () => true, name: "update" });
      }
      this.played = [];
      this.el.play.textContent = "Playing…";
      this.card.dataset.playing = "true";
      const next = (k) => {
        if (k >= phases.length) return this.stop();
        const p = phases[k];
        this.view = p.view;
        for (const r of BP.$$("input[name=xray-view]", this.card)) r.checked = r.value === p.view;
        this.diagram.shown = p.shown;
        this.partial = true;
        this.played.push(p.name);
        this.redraw();
        this.timer = setTimeout(() => next(k + 1), PHASE_MS);
      };
      next(0);
    }

    stop() {
      clearTimeout(this.timer);
      this.timer = null;
      if (this.partial) { // a Play ended or was cut short: every column's values again
        this.partial = false;
        this.diagram.shown = () => true;
        if (this.net) this.redraw();
      }
      this.el.play.textContent = "Play forward, then backward";
      delete this.card.dataset.playing;
    }
  }

  BP.views.register("xray", (page) => {
    if (!$("#xray")) return {};
    const panel = (BP.xrayPanel = new XrayPanel(page));
    return {
      reset() {
        panel.show(null); // another job (a Start, a Rewind) or the same one again: nothing of the last one stays
        panel.ask();
      },
      steps(run, ev, fromHistory) {
        // a running job records X-rays only while someone asks: ask about once a second while the panel is open
        if (!fromHistory && run === 0 && page.job.state === "running") panel.askSoon();
      },
      xray_ready(run) {
        // a step just run (the engine sends these at most twice a second, and only while someone asks)
        if (run === 0) panel.ask();
      },
    };
  });
})();
