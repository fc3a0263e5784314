/* Classify page: add points by clicking, as ConvNetJS does. With "Add points by clicking" on, a click on the
 * decision-boundary chart adds a blue point (class 0), a shift-click an orange one (class 1); "Clear points"
 * removes them. Once there are enough points of both classes they go to the form's own-data field (as a CSV,
 * through POST /api/data like a file: user_data.js), so Start trains on exactly the points drawn. */
(function () {
  "use strict";
  const $ = BP.$;
  const RANGE = [-3, 3]; // the plane offered before any run has set one

  /** The tools under the chart (not in its header: on a phone the chart stays on the first screen). */
  function tools(card) {
    const bar = document.createElement("div");
    bar.className = "draw-tools";
    bar.innerHTML = '<button type="button" class="btn small" id="btn-draw" aria-pressed="false">Add points by clicking</button> ' +
      '<button type="button" class="btn small" id="btn-draw-clear" hidden>Clear points</button>';
    bar.querySelector("#btn-draw").title = "Click on the chart to add a blue point, shift-click for an orange one; Start trains on them";
    card.querySelector(".chart-wrap").after(bar);
    return [bar.querySelector("#btn-draw"), bar.querySelector("#btn-draw-clear")];
  }

  BP.views.register("click-points", (page) => {
    const own = BP.ownData(page.form.form);
    if (!own || !BP.boundary) return {};
    const { board, layout, pointsTrace } = BP.boundary;
    const [btn, clear] = tools(board.base.closest(".chart-card"));
    const spec = BP.data.schema.classification.data;
    const points = []; // [x1, x2, label]
    let drawing = false, sent = "", last = null;

    const note = document.createElement("p");
    note.className = "draw-note";
    note.id = "draw-note";
    note.hidden = true;
    btn.parentNode.append(note);

    function counts() {
      const n1 = points.filter((p) => p[2] === 1).length;
      return [points.length - n1, n1];
    }

    function say() {
      const [n0, n1] = counts();
      let text = points.length + " point" + (points.length === 1 ? "" : "s") + " (" + n0 + " blue, " + n1 + " orange). ";
      if (points.length < spec.min) text += "Add at least " + spec.min + ", of both classes: click for blue, shift-click for orange.";
      else if (!n0 || !n1) text += "Add points of the other class too (" + (n0 ? "shift-click: orange" : "click: blue") + ").";
      else text += "Press Start to train on them.";
      note.textContent = text;
    }

    function draw() {
      const xy = points.map((p) => [p[0], p[1]]), labels = points.map((p) => p[2]);
      board.drawOverlay([pointsTrace("class 0 (drawn)", xy, labels, 0, "circle"), pointsTrace("class 1 (drawn)", xy, labels, 1, "circle")]);
    }

    /** The points, once usable, into the form's data field (which then names them at Start). */
    async function send() {
      const [n0, n1] = counts();
      if (points.length < spec.min || !n0 || !n1) {
        if (own.el.value.value) own.clear();
        sent = "";
        return;
      }
      const csv = "x1,x2,label\n" + points.map((p) => p[0] + "," + p[1] + "," + p[2]).join("\n") + "\n";
      if (csv === sent) return;
      sent = csv;
      await own.upload(csv, "points drawn on the page");
    }

    function setDrawing(on) {
      drawing = on;
      btn.setAttribute("aria-pressed", String(on));
      btn.classList.toggle("primary", on);
      note.hidden = !on;
      clear.hidden = !on && !points.length;
      layout.dragmode = on ? false : "zoom"; // a click adds a point instead of starting a zoom
      if (on) {
        if (layout.xaxis.autorange !== false) { // no run has set the plane yet
          layout.xaxis = BP.merge(layout.xaxis, { range: RANGE.slice(), autorange: false });
          layout.yaxis = BP.merge(layout.yaxis, { range: RANGE.slice(), autorange: false });
        }
        board.drawBase(board.base.data && board.base.data.length ? board.base.data : [{ type: "scatter", x: [null], y: [null], showlegend: false, hoverinfo: "skip" }]);
        draw();
        say();
      } else {
        board.drawBase(board.base.data || []);
      }
    }

    btn.addEventListener("click", () => setDrawing(!drawing));
    clear.addEventListener("click", () => {
      points.length = 0;
      draw();
      say();
      send();
    });

    board.base.addEventListener("click", (e) => {
      if (!drawing) return;
      // Plotly's drag layer sends a click of its own after the browser's: one point per click
      if (last && e.clientX === last.x && e.clientY === last.y && e.timeStamp - last.t < 300) return;
      last = { x: e.clientX, y: e.clientY, t: e.timeStamp };
      if (!page.job.canStart()) {
        page.job.setMessage("Points can be added while no run is training.", "warn");
        return;
      }
      const fl = board.base._fullLayout, s = fl && fl._size;
      if (!s) return;
      const rect = board.base.getBoundingClientRect();
      const px = e.clientX - rect.left - s.l, py = e.clientY - rect.top - s.t;
      if (px < 0 || py < 0 || px > s.w || py > s.h) return; // outside the plot area
      const x = fl.xaxis.p2l(px), y = fl.yaxis.p2l(py);
      points.push([+x.toFixed(4), +y.toFixed(4), e.shiftKey ? 1 : 0]);
      clear.hidden = false;
      draw();
      say();
      send();
    });

    own.onChange((preview) => {
      if (!preview && points.length && drawing) say(); // the field was cleared: the points stay drawn
    });
    BP.clickPoints = { points, setDrawing }; // (the browser tests)
    return {
      dataset() {
        if (drawing) say();
      },
    };
  });
})();
