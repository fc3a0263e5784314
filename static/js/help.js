/* Help on demand: each chart's "What am I looking at?" (a <details> disclosure in its header) and the glossary
 * beside a setting (the "?" button opens the schema's explanation under it). Escape closes what is open and
 * puts the keyboard focus back on the control that opened it. */
(function () {
  "use strict";
  const $$ = BP.$$;

  function setGlossary(button, open) {
    const box = document.getElementById(button.getAttribute("aria-controls"));
    if (!box) return;
    box.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
  }

  document.addEventListener("click", (e) => {
    const button = e.target.closest(".gloss-btn");
    if (!button) return;
    setGlossary(button, button.getAttribute("aria-expanded") !== "true");
  });

  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    const inside = document.activeElement;
    for (const d of $$("details.chart-help[open]")) {
      d.open = false;
      if (d.contains(inside)) d.querySelector("summary").focus();
    }
    for (const b of $$('.gloss-btn[aria-expanded="true"]')) setGlossary(b, false);
  });
})();
