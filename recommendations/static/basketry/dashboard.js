/* Dashboard enhancements. Inside Shopify admin there is no cookie: every form submission gets a
   fresh ID token from App Bridge (a POST in its URL, a GET search as a field). Elsewhere forms
   submit as plain HTML. */
(function () {
  "use strict";
  var embedded = document.querySelector('meta[name="shopify-api-key"]');
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!embedded || !window.shopify || form.dataset.tokened) return;
    event.preventDefault();
    window.shopify.idToken().then(function (token) {
      if ((form.method || "get").toLowerCase() === "post") {
        var url = new URL(form.getAttribute("action") || window.location.href, window.location.href);
        url.searchParams.set("id_token", token);
        form.setAttribute("action", url.toString());
      } else {
        var field = form.querySelector('input[name="id_token"]') || document.createElement("input");
        field.type = "hidden"; field.name = "id_token"; field.value = token;
        form.appendChild(field);
      }
      form.dataset.tokened = "1";
      form.submit();
    });
  });
})();
(function () {
  "use strict";
  // The rule form shows the fields of the chosen kind only (all of them without script).
  var kind = document.querySelector("[data-rule-kind]");
  function showKind() {
    document.querySelectorAll("fieldset[data-kinds]").forEach(function (set) {
      set.hidden = set.dataset.kinds.split(" ").indexOf(kind.value) < 0;
    });
  }
  if (kind) { kind.addEventListener("change", showKind); showKind(); }
  else {
    var fixed = document.querySelector('.rule-form input[name="kind"]');
    if (fixed) document.querySelectorAll("fieldset[data-kinds]").forEach(function (set) {
      set.hidden = set.dataset.kinds.split(" ").indexOf(fixed.value) < 0;
    });
  }
  // Destructive buttons ask first.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });
})();
