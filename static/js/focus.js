/* Keeping the keyboard focus on a control: a pressed button that becomes disabled (Start while the run starts,
 * Stop once it has stopped) must not drop the focus to the page. It moves to the first enabled control of a
 * preference list (Pause, Stop, Start), or meanwhile to a fallback (the speed buttons), and on to the list's
 * first control as soon as one is enabled, unless the user has gone elsewhere meanwhile. */
(function () {
  "use strict";

  class FocusKeeper {
    /** buttons: the controls in order of preference; fallback(): an element to hold the focus meanwhile. */
    constructor(buttons, fallback) {
      this.buttons = buttons;
      this.fallback = fallback;
      this.parked = false;
      this.parkedAt = null;
    }

    /** Call before enabling and disabling the controls: the one that has the focus now, if any. */
    before() {
      return this.buttons.includes(document.activeElement) ? document.activeElement : null;
    }

    /** Call after: move the focus on if `held` lost it (or if it waits on the fallback). */
    after(held) {
      if (held && held.disabled) this.parked = true;
      else if (!this.parked) return;
      const here = document.activeElement;
      if (!(here === document.body || here === null || here.disabled || here === this.parkedAt)) {
        this.parked = false; // the user went elsewhere
        return;
      }
      const next = this.buttons.find((b) => !b.disabled && !b.hidden);
      const target = next || this.fallback() || null;
      if (!target) return;
      target.focus();
      this.parkedAt = next ? null : target;
      if (next) this.parked = false;
    }
  }
  BP.FocusKeeper = FocusKeeper;
})();
