/* Backprop step by step (templates/backprop.html): the X-ray panel, the step controls, the units' pictures and
 * the distributions are views of their own files; this page adds its loss chart, and its "Reset to defaults"
 * goes back to the page's small network (web/routes.py STEP_SETUPS, or the link's settings), not to the
 * schema's 32-32 one, too big to read unit by unit. */
(function () {
  "use strict";
  BP.views.register("loss", () => BP.lossView("chart-loss", "minibatch loss"));
  BP.views.register("small-defaults", (page) => {
    page.options.resetForm = () => {
      page.form.reset();
      page.form.fill(BP.data.setup.values, true);
    };
    return {};
  });
})();
