/* Models that travel, on the page: "Load model…" uploads a model .npz (POST /models) and opens it on its page
 * (a 'loaded' job: its picture and metrics on its setup's data, digits to draw on MNIST); "Train on from this
 * model" makes Start continue training the model of the run shown (start's init_from). */
(function () {
  "use strict";
  const $ = BP.$;
  const TERMINAL = ["finished", "stopped"];

  class ModelFile {
    /** view: the page's JobView (its message line, job id, state). */
    constructor(view) {
      this.view = view;
      this.el = { input: $("#load-model"), label: $("#load-model-label"), row: $("#continue-row"), box: $("#continue-model") };
      if (!this.el.input) return;
      if (view.readOnly) this.el.label.hidden = true;
      this.el.input.addEventListener("change", () => this.upload(this.el.input.files[0]));
    }

    async upload(file) {
      this.el.input.value = "";
      if (!file) return;
      const limit = BP.data.max_model_bytes;
      if (limit && file.size > limit) {
        this.view.setMessage(file.name + " is " + (file.size / 1048576).toFixed(1) + " MB: a model file may be at most " +
          Math.round(limit / 1048576) + " MB.", "error");
        return;
      }
      this.view.setMessage("Loading " + file.name + ": checking the file and trying the model on its data…", "muted");
      let body;
      try {
        const resp = await fetch("/models?name=" + encodeURIComponent(file.name), {
          method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" }, credentials: "same-origin",
        });
        body = await resp.json();
        if (!resp.ok) throw new Error(body.message || resp.statusText);
      } catch (err) {
        this.view.setMessage("Could not load the model: " + err.message, "error");
        return;
      }
      location.assign(body.page_url); // its page (maybe another task's), showing the loaded model
    }

    /** Show the "train on" choice when the run shown has ended with a model this page can train on. */
    update() {
      const v = this.view, row = this.el.row;
      if (!row) return;
      const usable = !v.readOnly && v.jobId && TERMINAL.includes(v.state) && v.runs.length === 1 && BP.data.page !== "compare";
      row.hidden = !usable;
      if (!usable) this.el.box.checked = false;
    }

    /** The job whose model Start trains on (null: a fresh network). */
    initFrom() {
      return this.el.box && !this.el.row.hidden && this.el.box.checked ? this.view.jobId : null;
    }
  }
  BP.ModelFile = ModelFile;
})();
