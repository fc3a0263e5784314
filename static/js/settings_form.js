/* The settings form generated from the schema (templates/_form.html): values typed by their kind,
 * visibility rules (`when`), fields set per run by a comparison, fields a lesson hides, inline errors, what
 * changed since its defaults (for a setup link); the formula example chips. */
(function () {
  "use strict";
  const $ = BP.$, $$ = BP.$$;

  /** The settings form generated from the schema by the _form.html macro. */
  class SettingsForm {
    constructor(form, opts) {
      opts = opts || {};
      this.form = form;
      this.task = form.getAttribute("data-task"); // not form.dataset: a field named "dataset" shadows it
      this.specs = BP.data.schema[this.task];
      this.varies = [];
      this.onSubmit = opts.onSubmit;
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        if (this.onSubmit) this.onSubmit();
      });
      form.addEventListener("change", () => this.applyRules());
      form.addEventListener("input", (e) => {
        const f = e.target.closest(".field");
        if (f) this.clearError(f.dataset.field);
      });
      this.applyRules();
    }
    field(name) {
      return this.form.querySelector('.field[data-field="' + name + '"]');
    }
    input(name) {
      const f = this.field(name);
      return f ? f.querySelector("input, select") : null;
    }
    raw() {
      const v = {};
      for (const f of $$(".field[data-field]", this.form)) {
        const el = f.querySelector("input, select");
        v[f.dataset.field] = el.type === "checkbox" ? el.checked : el.value;
      }
      return v;
    }
    applyRules() {
      const v = this.raw();
      // one's own data replaces the generator's settings (the schema's data.replaces)
      const replaced = this.specs.data && v.data ? this.specs.data.replaces : [];
      // a field matters only when the settings its spec's `when` names have one of the listed values
      // (or vary per run in a comparison)
      for (const [name, spec] of Object.entries(this.specs)) {
        const f = this.field(name);
        if (!f || (!spec.when && !this.specs.data)) continue;
        f.hidden = replaced.includes(name) || !Object.entries(spec.when || {}).every(
          ([other, values]) => this.varies.includes(other) || !(other in v) || values.includes(v[other]));
      }
    }
    /** Fields set per run by a comparison: disabled, not sent, with a note. */
    setVaries(names, note) {
      this.varies = names || [];
      for (const f of $$(".field[data-field]", this.form)) {
        const on = this.varies.includes(f.dataset.field);
        f.querySelector("input, select").disabled = on;
        const n = f.querySelector(".varies-note");
        n.hidden = !on;
        n.textContent = on ? note : "";
        f.classList.toggle("varied", on);
      }
      this.applyRules();
    }
    /** The config to send: the task, then every shown, enabled field of this task, typed by its kind. */
    values() {
      const out = { task: this.task };
      for (const f of $$(".field[data-field]", this.form)) {
        const el = f.querySelector("input, select");
        if (f.hidden || el.disabled) continue;
        const kind = f.dataset.kind, s = el.value.trim();
        let v;
        if (kind === "data") { // the digest of an upload (user_data.js); nothing: generated data
          if (s) out[f.dataset.field] = s;
          continue;
        }
        if (kind === "bool") v = el.checked;
        else if (kind === "int" || kind === "float") v = s !== "" && isFinite(Number(s)) ? Number(s) : s;
        else v = kind === "str" ? el.value : s;
        out[f.dataset.field] = v;
      }
      return out;
    }
    /** Put settings in the form; `exact`: numbers in full (a link's values), else floats to 6 digits. */
    fill(config, exact) {
      for (const [name, value] of Object.entries(config || {})) {
        const el = this.input(name);
        if (!el) continue;
        if (this.field(name).dataset.kind === "data") { // a run's data (its summary), shown by user_data.js
          el.value = value && value.digest ? value.digest : "";
          this.field(name).dispatchEvent(new CustomEvent("bp:data-fill", { detail: value || null }));
        } else if (el.type === "checkbox") el.checked = !!value;
        else if (typeof value === "number" && this.field(name).dataset.kind === "float" && !exact) el.value = String(+value.toPrecision(6)); // -3.14159, not -3.1415926535 cut off
        else el.value = Array.isArray(value) ? value.join(",") : value == null ? "" : String(value);
      }
      this.clearErrors();
      this.applyRules();
    }
    /** Remember the form as it is now (its defaults) as what a setup link leaves out. */
    markBaseline() {
      this.baseline = this.raw();
    }
    /** {setting: the text in its box} of every setting changed since markBaseline(), in the form's order. */
    changed() {
      const now = this.raw(), out = {};
      for (const [name, v] of Object.entries(now)) {
        if (this.specs[name] && this.specs[name].kind === "data") continue; // one's own data is not in a link
        if (!this.baseline || v !== this.baseline[name]) out[name] = typeof v === "boolean" ? String(v) : v.trim();
      }
      return out;
    }
    /** Hide settings that would distract (a lesson's `hide`): still sent, with a button to show them. */
    conceal(names) {
      const fields = names.map((n) => this.field(n)).filter(Boolean);
      if (!fields.length) return;
      for (const f of fields) f.classList.add("concealed");
      const note = document.createElement("p");
      note.className = "concealed-note";
      note.innerHTML = '<span></span> <button type="button" class="link-btn">Show them</button>';
      note.querySelector("span").textContent = (fields.length === 1 ? "1 setting is" : fields.length + " settings are") +
        " hidden by this lesson's link (" + fields.map((f) => this.specs[f.dataset.field].label).join(", ") + ").";
      note.querySelector("button").addEventListener("click", () => {
        for (const f of fields) f.classList.remove("concealed");
        note.remove();
      });
      this.form.prepend(note);
      this.concealed = names.slice();
    }
    defaults() {
      const d = {};
      for (const [name, spec] of Object.entries(this.specs)) if (name !== "task") d[name] = spec.default;
      return d;
    }
    reset() {
      this.fill(this.defaults());
    }
    /** Show each error under its field; returns the messages that have no visible field. `quiet`: leave the
     *  keyboard focus and the scroll where they are (errors shown as a page opens). */
    setErrors(errors, quiet) {
      this.clearErrors();
      const rest = [];
      let first = null;
      for (const [name, msg] of Object.entries(errors || {})) {
        const f = this.field(name);
        if (f) f.classList.remove("concealed"); // a hidden setting in error is shown
        if (!f || f.hidden) {
          const spec = this.specs[name];
          rest.push((spec ? spec.label : name) + ": " + msg);
          continue;
        }
        f.classList.add("invalid");
        const box = f.querySelector(".field-error");
        box.textContent = msg;
        box.hidden = false;
        const input = f.querySelector("input, select");
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", box.id); // read out with the field
        if (!first) first = f;
      }
      if (first && !quiet) {
        const details = this.form.closest("details");
        if (details) details.open = true; // collapsed on a phone: show what needs fixing
        first.scrollIntoView({ block: "nearest", behavior: "smooth" });
        const el = first.querySelector("input, select");
        if (el && !el.disabled) el.focus({ preventScroll: true });
      }
      return rest;
    }
    clearError(name) {
      const f = this.field(name);
      if (!f) return;
      f.classList.remove("invalid");
      const input = f.querySelector("input, select");
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
      const box = f.querySelector(".field-error");
      box.hidden = true;
      box.textContent = "";
    }
    clearErrors() {
      for (const f of $$(".field[data-field]", this.form)) this.clearError(f.dataset.field);
    }
    setDisabled(on) {
      $(".settings-body", this.form).disabled = on;
    }
  }
  BP.SettingsForm = SettingsForm;

  /** Example chips: fill the formula box and, when nothing runs, start right away. */
  BP.wireExamples = function (settings, job) {
    for (const chip of $$("[data-example]", settings.form)) {
      chip.title = "Fit " + chip.dataset.example;
      chip.addEventListener("click", () => {
        const el = settings.input("formula");
        el.value = chip.dataset.example;
        settings.clearError("formula");
        if (job.canStart()) job.start();
      });
    }
  };
})();
