/* Setups as links. A page opened from a link (/function?formula=sin(3*x)&hidden=8,8&lr=0.03) gets the settings
 * the server read from it (BP.data.setup: bpnet/engine/setups.py, the config schema's own validation) into its
 * form, each problem under its field (the page lists them all above the status), and the settings a lesson
 * hides folded away. "Copy link to this setup" writes the form as such a link: the settings changed from the
 * page's defaults, as typed, plus the speed, the lesson and its hidden settings; opening it gives the same form.
 */
(function () {
  "use strict";
  const $ = BP.$;

  /** A query value escaped only where a URL needs it, so the link stays readable: sin(3*x), 8,8. */
  function enc(s) {
    return encodeURIComponent(s).replace(/%2C/g, ",").replace(/%2F/g, "/").replace(/%3A/g, ":");
  }

  BP.views.register("setup", (page) => {
    const opts = page.options || {};
    const setup = BP.data.setup;
    const radios = () => BP.$$("input[name=pace]");
    const checkedPace = (attr) => +((radios().find((r) => r[attr]) || { value: 0 }).value);
    const initialPace = checkedPace("defaultChecked"); // the speed the page starts with
    const form = () => (opts.form ? opts.form() : page.form); // (compare: the form of its base experiment)
    form().markBaseline(); // the page's defaults: what a link leaves out

    if (setup && setup.given) {
      if (opts.applySetup) opts.applySetup(setup); // the compare page: its comparison and base experiment first
      const values = Object.assign({}, setup.values);
      const speed = values.pace;
      delete values.pace;
      form().fill(values, true);
      if (speed !== undefined) showSpeed(speed);
      const errors = {};
      for (const p of setup.problems) if (p.field && form().field(p.field)) errors[p.field] = p.message;
      form().setErrors(errors, true);
      if (setup.hide.length) form().conceal(setup.hide);
    }

    /** The speed radio of a link's pace (one is added if the page does not offer that speed). */
    function showSpeed(value) {
      let r = radios().find((x) => +x.value === value);
      if (!r) {
        const label = radios()[0].closest("label").cloneNode(true);
        r = label.querySelector("input");
        r.value = String(value);
        r.defaultChecked = false;
        label.title = "at most " + value + " training steps per second";
        label.querySelector("span").textContent = String(value);
        const after = radios().find((x) => +x.value === 0 || +x.value > value);
        after.closest("label").before(label);
      }
      r.checked = true;
    }

    /** The link to the setup now in the form (at the speed chosen, or `speed`). */
    function link(speed) {
      const params = Object.assign({}, opts.linkParams ? opts.linkParams() : {}, form().changed());
      speed = speed === undefined ? checkedPace("checked") : speed;
      if (speed !== initialPace) params.pace = String(speed);
      if (form().concealed) params.hide = form().concealed.join(",");
      if (setup && setup.lesson) params.lesson = setup.lesson.slug;
      const query = Object.entries(params).map(([k, v]) => enc(k) + "=" + enc(v)).join("&");
      return location.origin + "/" + BP.data.page + (query ? "?" + query : ""); // (a watch page: its own page)
    }

    const button = $("#btn-setup-link");
    button.addEventListener("click", async () => {
      const url = link();
      button.dataset.url = url;
      try {
        await navigator.clipboard.writeText(url);
        page.job.setMessage("Link to this setup copied: it opens this page with these settings, ready to start.", "success");
      } catch (err) {
        page.job.setMessage("Copy this link to the setup: " + url, "muted");
      }
    });
    return {
      config(cfg) { // a watched run's settings are in the form: "Start your own run" starts from them
        if (BP.data.watch) $("#own-run-link").href = link(cfg.pace);
      },
    };
  });
})();
