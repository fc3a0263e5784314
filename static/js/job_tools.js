/* The job's downloads (history CSV / JSON, model .npz and its PyTorch script, per run) and its read-only share link. */
(function () {
  "use strict";
  const $ = BP.$;

  class JobTools {
    /** setMessage(text, kind): where the copy button reports. */
    constructor(setMessage) {
      this.setMessage = setMessage;
      this.el = {
        dlRun: $("#dl-run"), csv: $("#dl-csv"), json: $("#dl-json"), npz: $("#dl-npz"), py: $("#dl-py"),
        share: $("#share-url"), copy: $("#btn-copy"),
      };
      this.jobId = null;
      this.runs = [];
      this.el.copy.addEventListener("click", () => this.copyShare());
      this.el.dlRun.addEventListener("change", () => this.updateDownloads());
    }

    /** The links of job `jobId` (none: disabled), with a run picker when it has several runs. */
    updateDownloads(jobId, runs) {
      if (arguments.length) {
        this.jobId = jobId;
        this.runs = runs;
      }
      const e = this.el, id = this.jobId;
      const n = this.runs.filter(Boolean).length;
      if (n > 1) {
        const labels = this.runs.map((r, i) => (r && r.label) || "run " + (i + 1));
        const current = e.dlRun.value;
        if (e.dlRun.options.length !== n || Array.from(e.dlRun.options).some((o, i) => o.text !== labels[i])) {
          e.dlRun.innerHTML = "";
          labels.forEach((l, i) => e.dlRun.add(new Option(l, String(i))));
          if (current && +current < n) e.dlRun.value = current;
        }
      }
      e.dlRun.hidden = n <= 1;
      const run = n > 1 ? e.dlRun.value || "0" : "0";
      const links = [[e.csv, "history.csv?run=" + run], [e.json, "history.json"], [e.npz, "model.npz?run=" + run],
        [e.py, "model.py?run=" + run]];
      for (const [a, path] of links) {
        if (id) {
          a.href = "/jobs/" + encodeURIComponent(id) + "/" + path;
          a.removeAttribute("aria-disabled");
        } else {
          a.removeAttribute("href");
          a.setAttribute("aria-disabled", "true");
        }
      }
    }

    updateShare(url) {
      this.el.share.value = url || "";
      this.el.copy.disabled = !url;
    }

    async copyShare() {
      const url = this.el.share.value;
      if (!url) return;
      try {
        await navigator.clipboard.writeText(url);
        this.setMessage("Read-only link copied: anyone with it can watch this run live.", "success");
      } catch (err) {
        this.el.share.focus();
        this.el.share.select();
        this.setMessage("Select the link and copy it (Ctrl+C): anyone with it can watch this run live.", "muted");
      }
    }
  }
  BP.JobTools = JobTools;
})();
