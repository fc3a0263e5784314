/* The verdict on each run that has ended, in plain words, as the engine judged it from the run's history
 * (bpnet/engine/verdict.py, in the 'done' event and the history): "validation loss rose while training loss fell
 * from step 1,200: overfitting". One line per run; a comparison's lines name their run. */
(function () {
  "use strict";
  const $ = BP.$;

  BP.views.register("verdict", () => {
    const box = $("#verdict"), list = $("#verdict-list");
    let labels = [], lines = [];

    function draw() {
      list.innerHTML = "";
      lines.forEach((v, run) => {
        if (!v) return;
        const li = document.createElement("li");
        li.dataset.kind = v.kind;
        li.dataset.run = String(run);
        const title = document.createElement("b");
        title.className = "verdict-kind";
        title.textContent = (labels.length > 1 ? (labels[run] || "run " + (run + 1)) + ": " : "") + v.title;
        const text = document.createElement("span");
        text.className = "verdict-text";
        // "underfitting: it levelled off at ..." beside its title reads "It levelled off at ..."
        const said = v.text.toLowerCase().startsWith(v.title.toLowerCase() + ": ") ? v.text.slice(v.title.length + 2) : v.text;
        text.textContent = BP.cap(said);
        li.append(title, " ", text);
        list.append(li);
      });
      box.hidden = !list.children.length;
    }

    return {
      reset(n, history) {
        labels = history.runs.map((r) => r.label);
        lines = [];
        draw();
      },
      dataset(run, ev) {
        labels[run] = ev.label;
      },
      done(run, ev) {
        lines[run] = ev.verdict || null;
        draw();
      },
    };
  });
})();
