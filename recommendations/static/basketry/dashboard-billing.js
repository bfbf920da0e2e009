/* Shopify's charge confirmation page cannot be shown inside Shopify admin's frame: open it in the
   top window (App Bridge handles window.open with "_top" for embedded apps). */
(function () {
  "use strict";
  var target = document.getElementById("billing-confirmation");
  if (target && target.dataset.url) window.open(target.dataset.url, "_top");
})();
