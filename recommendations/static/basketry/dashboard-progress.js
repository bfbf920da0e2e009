/* The Overview while a sync or a training runs: ask the server every few seconds, say what
   changed in the live region, and once nothing runs any more, refresh the sections the run
   changed from a fresh copy of the page (or, failing that, reload the page once). A page that
   shows nothing running never loads this script. */
(function () {
  "use strict";
  var region = document.getElementById("dashboard-progress");
  if (!region || !window.fetch || !window.DOMParser) return;
  var note = document.getElementById("dashboard-progress-note");
  var interval = parseInt(region.getAttribute("data-interval-ms"), 10) || 4000;
  var progressUrl = region.getAttribute("data-progress-url");
  var MAX_FAILURES = 5;
  var failures = 0;

  function authorization() {
    // Inside Shopify admin there is no cookie: every request carries a fresh ID token.
    if (document.querySelector('meta[name="shopify-api-key"]') && window.shopify && window.shopify.idToken) {
      return window.shopify.idToken().then(function (token) { return { Authorization: "Bearer " + token }; });
    }
    return Promise.resolve({});
  }

  function request(url, accept) {
    return authorization().then(function (headers) {
      headers.Accept = accept;
      return fetch(url, { credentials: "same-origin", cache: "no-store", headers: headers });
    }).then(function (response) {
      if (!response.ok) throw new Error(url + " answered " + response.status);
      return response;
    });
  }

  function later(delay) {
    window.setTimeout(poll, delay);
  }

  function refreshSections() {
    var url = new URL(window.location.href);
    url.searchParams.delete("id_token");  // spent after a minute; the header carries a fresh one
    request(url.toString(), "text/html").then(function (response) {
      return response.text();
    }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html");
      var sections = document.querySelectorAll("[data-progress-refresh]");
      Array.prototype.forEach.call(sections, function (section) {
        var replacement = fresh.getElementById(section.id);
        if (replacement) section.parentNode.replaceChild(document.importNode(replacement, true), section);
      });
      if (note) note.textContent = "Done: the sections below are up to date.";
    }).catch(function () {
      window.location.reload();
    });
  }

  function poll() {
    if (document.hidden) {  // a tab in the background need not ask
      later(interval);
      return;
    }
    request(progressUrl, "application/json").then(function (response) {
      return response.json();
    }).then(function (state) {
      failures = 0;
      if (region.textContent !== state.message) region.textContent = state.message;
      if (state.active) later(interval);
      else refreshSections();
    }).catch(function () {
      failures += 1;
      if (failures < MAX_FAILURES) later(interval * Math.pow(2, failures));
    });
  }

  later(interval);
})();
