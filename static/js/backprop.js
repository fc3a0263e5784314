/* Backprop step by step (templates/backprop.html): the X-ray panel, the step controls, the units' pictures and
 * the distributions are views of their own files; this page adds its loss chart. */
(function () {
  "use strict";
  BP.views.register("loss", () => BP.lossView("chart-loss", "minibatch loss"));
})();
