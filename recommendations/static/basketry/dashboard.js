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
