/* A Start refused because this browser already trains a run (on another page or tab): the box that says which
 * run it is, with "Go to it" (that run's page, with its controls) and "Stop it" (then Start works here). */
(function () {
  "use strict";
  const $ = BP.$;

  class Elsewhere {
    /** job: the JobView (call, setMessage, its Start button). */
    constructor(job) {
      this.job = job;
      this.box = $("#elsewhere");
    }

    hide() {
      if (this.box) this.box.hidden = true;
    }

    /** ack: the refusal, with the running run's job_id, page and page_url. */
    show(ack) {
      const box = this.box, job = this.job;
      if (!box) return;
      box.hidden = false;
      const go = $("#elsewhere-go", box), stop = $("#elsewhere-stop", box);
      $("#elsewhere-what", box).textContent = "Your run on the " + (BP.data.pages[ack.page] || ack.page) + " page is still training.";
      go.href = ack.page_url;
      stop.disabled = false;
      stop.onclick = async () => {
        stop.disabled = true;
        const res = await job.call("stop", { job_id: ack.job_id });
        if (res.ok) {
          box.hidden = true;
          job.setMessage("Your other run was stopped: press Start to train here.", "success");
          job.el.start.focus();
        } else {
          stop.disabled = false;
          job.setMessage(BP.cap(res.message), "error");
        }
      };
      go.focus(); // the way out, for the keyboard too
    }
  }
  BP.Elsewhere = Elsewhere;
})();
