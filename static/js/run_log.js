/* Every run this browser starts or watches goes into its table of runs (the Runs page, runs_table.js) once it
 * has ended: the page asks the server to add the job (POST /api/runs), which reads the job's own history, so
 * the table shows the numbers the network computed. The table is named by a random key kept in localStorage. */
(function () {
  "use strict";
  const ENDED = ["finished", "stopped", "failed"];

  /** This browser's table key (made once, kept in localStorage). */
  BP.runsKey = function () {
    let key = localStorage.getItem("bpnet.runs.key");
    if (!key || !/^[A-Za-z0-9_-]{16,64}$/.test(key)) {
      const bytes = crypto.getRandomValues(new Uint8Array(18));
      key = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      localStorage.setItem("bpnet.runs.key", key);
    }
    return key;
  };

  const added = new Set();
  BP.loggedRuns = new Set(); // the jobs this page has added to the table (the browser tests wait on it)
  /** Add an ended job to the table (once per page); resolves to the table or null. */
  BP.logRun = async function (jobId) {
    if (!jobId || added.has(jobId)) return null;
    added.add(jobId);
    try {
      const resp = await fetch("/api/runs", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ key: BP.runsKey(), job_id: jobId }), credentials: "same-origin" });
      if (!resp.ok) throw new Error(String(resp.status));
      const table = await resp.json();
      BP.loggedRuns.add(jobId);
      document.dispatchEvent(new CustomEvent("bp:run-logged", { detail: { jobId, rows: table.rows.length } }));
      return table;
    } catch (err) {
      added.delete(jobId); // tried again when the job shows again
      return null;
    }
  };

  if (BP.views) BP.views.register("run-log", (page) => ({ // (the Runs page has no job view)
    state(state) {
      if (ENDED.includes(state) && page.job && page.job.jobId) BP.logRun(page.job.jobId);
    },
  }));
})();
