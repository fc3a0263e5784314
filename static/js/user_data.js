/* Your own data: a CSV file chosen or text pasted into the form's data field (templates/_form.html data_field)
 * goes to POST /api/data, where the engine reads and checks it (bpnet/engine/user_data.py); its preview (rows,
 * ranges, the split, the first rows) shows under the field and its digest goes into the field, so Start trains on
 * it. Every problem the server names shows under the field. A run's data (a reload, a watch link) shows as its
 * summary. BP.ownData(form element) is the field's controller (the classify page's clicked points use it). */
(function () {
  "use strict";
  const $ = BP.$, fmt = BP.fmt;

  class DataField {
    constructor(field) {
      this.field = field;
      this.form = field.closest("form");
      this.task = field.dataset.task;
      this.columns = field.dataset.columns.split(",");
      const id = field.querySelector("input[type=hidden]").id;
      this.el = {
        value: $("#" + CSS.escape(id)), file: $("#" + CSS.escape(id + "-file")), pasteBtn: $("#" + CSS.escape(id + "-paste-btn")),
        paste: $("#" + CSS.escape(id + "-paste")), text: $("#" + CSS.escape(id + "-text")), read: $("#" + CSS.escape(id + "-read")),
        clear: $("#" + CSS.escape(id + "-clear")), preview: $("#" + CSS.escape(id + "-preview")), error: $("#" + CSS.escape(id + "-error")),
      };
      this.pending = 0;
      this.listeners = [];
      this.el.file.addEventListener("change", () => this._readFile());
      this.el.pasteBtn.addEventListener("click", () => {
        const open = this.el.paste.hidden;
        this.el.paste.hidden = !open;
        this.el.pasteBtn.setAttribute("aria-expanded", String(open));
        if (open) this.el.text.focus();
      });
      this.el.read.addEventListener("click", () => this.upload(this.el.text.value, "pasted data"));
      this.el.clear.addEventListener("click", () => this.clear());
      field.addEventListener("bp:data-fill", (e) => this.showRun(e.detail));
    }

    /** Called with the preview (or null) whenever the data in the field changes. */
    onChange(fn) {
      this.listeners.push(fn);
    }

    async _readFile() {
      const file = this.el.file.files[0];
      if (!file) return;
      const max = BP.data.schema[this.task].data.max_bytes;
      if (file.size > max) { // refused here too: no need to send a file the server would refuse
        this.fail("the file is " + fmt.num(file.size / 1e6, 2) + " MB; the limit is " + fmt.num(max / 1e6, 2) + " MB");
        this.el.file.value = "";
        return;
      }
      const body = await file.arrayBuffer();
      this.el.file.value = ""; // the same file chosen again is read again
      await this.upload(body, file.name);
    }

    /** Send data (text or bytes) to the server; the field then holds it, or shows why it cannot. */
    async upload(body, name) {
      const vf = this.form.querySelector('.field[data-field="val_fraction"] input');
      const q = new URLSearchParams({ task: this.task, name: name || "" });
      if (vf && vf.value.trim()) q.set("val_fraction", vf.value.trim());
      const mine = ++this.pending;
      this.field.classList.add("busy");
      let reply;
      try {
        const resp = await fetch("/api/data?" + q, { method: "POST", body, headers: { "Content-Type": "text/csv" }, credentials: "same-origin" });
        reply = await resp.json().catch(() => ({ message: "the server answered " + resp.status }));
        if (!resp.ok) reply.ok = false;
      } catch (err) {
        reply = { ok: false, message: "could not reach the server: " + err.message };
      }
      if (mine !== this.pending) return null; // a newer upload is under way
      this.field.classList.remove("busy");
      if (!reply.ok) {
        this.fail(reply.message || "the server refused the data");
        return null;
      }
      this.set(reply.preview);
      return reply.preview;
    }

    fail(message) {
      this.el.error.textContent = "Cannot use this data: " + message;
      this.el.error.hidden = false;
      this.field.classList.add("invalid");
      this.field.dataset.state = "error";
    }

    _clearError() {
      this.el.error.hidden = true;
      this.el.error.textContent = "";
      this.field.classList.remove("invalid");
    }

    /** The field holds this upload (its preview as the server made it). */
    set(preview) {
      this._clearError();
      this.el.value.value = preview.digest;
      this.el.clear.hidden = false;
      this.el.paste.hidden = true;
      this.el.pasteBtn.setAttribute("aria-expanded", "false");
      this._render(preview, true);
      this.field.dataset.state = "ready";
      this.form.dispatchEvent(new Event("change")); // the generator's settings hide (SettingsForm.applyRules)
      for (const fn of this.listeners) fn(preview);
    }

    /** Back to generated data. */
    clear() {
      this._clearError();
      this.el.value.value = "";
      this.el.clear.hidden = true;
      this.el.preview.hidden = true;
      this.el.preview.textContent = "";
      delete this.field.dataset.state;
      this.form.dispatchEvent(new Event("change"));
      for (const fn of this.listeners) fn(null);
    }

    /** A run's data (its summary, from the history): shown, and named by Start again while the server keeps it. */
    showRun(summary) {
      this._clearError();
      this.el.clear.hidden = !summary;
      if (!summary) {
        this.el.preview.hidden = true;
        delete this.field.dataset.state;
        return;
      }
      this._render(summary, false);
      this.field.dataset.state = "ready";
    }

    _render(p, fresh) {
      const box = this.el.preview;
      box.textContent = "";
      const head = document.createElement("p");
      head.className = "data-summary";
      const b = document.createElement("b");
      b.textContent = p.name;
      head.append(b, ": " + fmt.int(p.rows) + " rows" + (p.validation != null ? " (" + fmt.int(p.training) + " for training, " +
        fmt.int(p.validation) + " held out for validation)" : "") + ". " + Object.entries(p.ranges).map(
        ([c, [lo, hi]]) => c + " from " + fmt.num(lo, 3) + " to " + fmt.num(hi, 3)).join("; ") + ".");
      box.append(head);
      if (p.classes) {
        const cls = document.createElement("p");
        cls.className = "data-classes";
        cls.textContent = p.classes.map((c, i) => "class " + i + (c !== String(i) ? " (" + c + ")" : "") + ": " +
          fmt.int(p.counts[i]) + " points").join(", ");
        box.append(cls);
      }
      if (p.note) {
        const note = document.createElement("p");
        note.className = "hint";
        note.textContent = p.note;
        box.append(note);
      }
      if (p.head && p.head.length) box.append(this._table(p));
      if (!fresh) {
        const from = document.createElement("p");
        from.className = "hint";
        from.textContent = "The data of the run shown.";
        box.append(from);
      }
      box.hidden = false;
    }

    _table(p) {
      const table = document.createElement("table");
      table.className = "data-head mono";
      const cap = document.createElement("caption");
      cap.textContent = "First " + p.head.length + " rows";
      const tr = document.createElement("tr");
      for (const c of this.columns) {
        const th = document.createElement("th");
        th.scope = "col";
        th.textContent = c;
        tr.append(th);
      }
      table.append(cap, tr);
      for (const row of p.head) {
        const r = document.createElement("tr");
        row.forEach((v, j) => {
          const td = document.createElement("td");
          td.textContent = p.classes && j === row.length - 1 ? p.classes[v] : fmt.num(v, 4);
          r.append(td);
        });
        table.append(r);
      }
      return table;
    }
  }

  const made = new Map();
  /** The DataField of a settings form (created on first use), or null if the form has none. */
  BP.ownData = function (form) {
    const field = form && form.querySelector('.field[data-kind="data"]');
    if (!field) return null;
    if (!made.has(field)) made.set(field, new DataField(field));
    return made.get(field);
  };
  document.addEventListener("DOMContentLoaded", () => BP.$$("form.settings").forEach((f) => BP.ownData(f)));
})();
