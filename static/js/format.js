/* Number formatting for the dashboard: one way to write a loss, a count, a share and a duration everywhere. */
(function () {
  "use strict";
  const finite = BP.finite;

  BP.fmt = {
    num(v, digits) {
      if (!finite(v)) return "–";
      const a = Math.abs(v);
      if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
      return String(+v.toPrecision(digits || 3));
    },
    int(v) {
      return finite(v) ? Math.round(v).toLocaleString("en-US") : "–";
    },
    pct(v, digits) {
      return finite(v) ? (100 * v).toFixed(digits == null ? 1 : digits) + " %" : "–";
    },
    dur(s) {
      if (!finite(s)) return "–";
      s = Math.max(0, Math.round(s));
      if (s < 60) return s + " s";
      const m = Math.floor(s / 60);
      if (m < 60) return m + " min " + String(s % 60).padStart(2, "0") + " s";
      return Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min";
    },
  };
})();
