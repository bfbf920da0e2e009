/* Basketry storefront widget: finds [data-basketry] blocks, loads them near the viewport and
   renders accessible product cards. No framework, no third-party requests. */
(function () {
  "use strict";
  var script = document.currentScript;
  var API = (script && script.dataset.api) || (script ? new URL(script.src).origin : "");
  // Behind Shopify's App Proxy (data-proxy) the endpoints live under the proxy path.
  var PROXY = script && script.dataset.proxy, BASE = API + (PROXY ? "/" : "/api/storefront/v1/");
  var TITLES = { related: "You may also like", bought_together: "Frequently bought together", cart: "Goes well with your cart", personal: "Picked for you" };
  var CSS = ".bsk{min-height:var(--basketry-min-height,300px);font:inherit;color:var(--basketry-text,inherit)}" +
    ".bsk h2{font-size:var(--basketry-title-size,1.25rem);margin:0 0 .75rem}" +
    ".bsk ul{display:grid;grid-template-columns:repeat(auto-fill,minmax(var(--basketry-card-width,150px),1fr));gap:1rem;list-style:none;margin:0;padding:0}" +
    ".bsk li{display:flex;flex-direction:column;gap:.35rem}.bsk img,.bsk .ph{display:block;width:100%;height:auto;aspect-ratio:1;object-fit:cover;border-radius:var(--basketry-radius,6px);background:#eee}" +
    ".bsk a{color:inherit}.bsk .p{font-weight:600}.bsk details{font-size:.85rem}.bsk summary{cursor:pointer}" +
    ".bsk button{align-self:start;padding:.6rem 1rem;border:0;border-radius:var(--basketry-radius,6px);background:var(--basketry-accent,#1f6f4a);color:var(--basketry-accent-text,#fff);font:inherit;cursor:pointer}" +
    ".bsk button:focus-visible,.bsk a:focus-visible,.bsk summary:focus-visible,.bsk input:focus-visible{outline:3px solid var(--basketry-focus,#1a56db);outline-offset:2px}" +
    ".bsk .t{margin:.75rem 0}.bsk .sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}" +
    // Layouts: the dashboard's setting, or a theme block's data-layout ("row" is the theme editor's carousel).
    ".bsk-carousel ul,.bsk-row ul{grid-auto-flow:column;grid-auto-columns:var(--basketry-card-width,150px);grid-template-columns:none;overflow-x:auto;scroll-snap-type:x mandatory;padding:4px}" +
    ".bsk-carousel li,.bsk-row li{scroll-snap-align:start}.bsk-list ul{grid-template-columns:1fr}.bsk-list a{display:flex;gap:1rem;align-items:center}.bsk-list img,.bsk-list .ph{width:96px;flex:none}";

  // Events carry proof: Shopify's App Proxy signature, or the page token a store signed.
  var queue = [], shopOf = null, tokenOf = "", shopify = false;
  // Analytics only with consent: Shopify's Customer Privacy API, window.BasketryConsent() or data-consent="granted".
  function consented() {
    var privacy = window.Shopify && window.Shopify.customerPrivacy;
    if (privacy && privacy.analyticsProcessingAllowed) return !!privacy.analyticsProcessingAllowed();
    if (typeof window.BasketryConsent === "function") return !!window.BasketryConsent();
    return !!(script && script.dataset.consent === "granted");
  }
  function send(block, event) {
    if (!consented()) return;
    shopOf = block.dataset.shop; shopify = block.dataset.platform === "shopify" || !!window.Shopify;
    tokenOf = block.dataset.pageToken || tokenOf;
    queue.push(event);
    if (queue.length >= 20) flush();
  }
  function track(block, type, item) {
    send(block, { type: type, block: block.dataset.basketry, product_id: String(item.product_id), anchor_id: block.dataset.productId || "" });
  }
  // A/B tests: a random id kept in this browser (only with consent) keeps a visitor in one arm.
  function store(key, value) {
    try { if (value) localStorage.setItem(key, value); return localStorage.getItem(key) || ""; } catch (e) { return ""; }
  }
  function visitor() {
    if (!consented() || !window.crypto) return "";
    var id = store("bsk_v");
    if (!id) { var a = new Uint8Array(12); crypto.getRandomValues(a); id = store("bsk_v", Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join("")); }
    return id;
  }
  // First sight of a test: counted once; the order is marked with the arm (cart attribute or cookie).
  function exposed(block, test) {
    var mark = test.id + ":" + test.arm;
    if (store("bsk_x" + test.id) === mark) return;
    store("bsk_x" + test.id, mark);
    send(block, { type: "exposure", block: block.dataset.basketry, experiment: test.id, arm: test.arm, visitor: visitor() });
    var d = block.dataset;
    if (d.platform === "woocommerce") document.cookie = "basketry_experiment=" + mark + ";path=/;max-age=5184000;SameSite=Lax";
    else if (d.cartUpdateUrl || d.platform === "shopify" || window.Shopify) fetch(d.cartUpdateUrl || "/cart/update.js", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ attributes: { _basketry_experiment: mark } }), credentials: "same-origin" });
  }
  function flush() {
    if (!queue.length || !consented() || !(PROXY || shopify || tokenOf)) { queue = []; return; }
    var body = JSON.stringify({ shop: shopOf, page_token: tokenOf, events: queue.splice(0, 50) });
    // On Shopify always the store's own App Proxy.
    var url = shopify && !PROXY ? "/apps/basketry/events" : BASE + "events";
    if (!(navigator.sendBeacon && navigator.sendBeacon(url, new Blob([body], { type: "text/plain" })))) {
      fetch(url, { method: "POST", body: body, keepalive: true, headers: { "Content-Type": "text/plain" } });
    }
  }
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") flush(); });
  window.addEventListener("pagehide", flush);
  setInterval(flush, 5000);
  var seen = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (entry.isIntersecting) { seen.unobserve(entry.target); track(entry.target.bskBlock, "impression", entry.target.bskItem); }
    });
  }, { threshold: 0.5 }) : null;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var key in attrs) node.setAttribute(key, attrs[key]);
    if (text != null) node.textContent = text;
    return node;
  }

  function money(amount, currency) {
    try { return new Intl.NumberFormat(document.documentElement.lang || undefined, { style: "currency", currency: currency }).format(amount); }
    catch (e) { return amount + " " + currency; }
  }

  function addToCart(block, items) {
    var platform = block.dataset.platform || "shopify";
    if (platform === "woocommerce") {
      // WooCommerce: one product per ?add-to-cart request; the plugin keeps `basketry` for attribution.
      var base = block.dataset.cartUrl || "/";
      return items.reduce(function (done, i) {
        return done.then(function () {
          return fetch(base + (base.indexOf("?") < 0 ? "?" : "&") + "add-to-cart=" + encodeURIComponent(i.product_id) + "&quantity=1&basketry=" + block.dataset.basketry, { credentials: "same-origin" });
        }).then(function (r) { if (!r.ok) throw new Error(r.status); });
      }, Promise.resolve());
    }
    var url = block.dataset.cartUrl || "/cart/add.js";
    var body = { items: items.map(function (i) { return { id: i.product_id, quantity: 1, properties: { _basketry: block.dataset.basketry } }; }) };
    return fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); });
  }

  function card(block, item, withBox, index, onChange) {
    var li = el("li");
    li.bskBlock = block; li.bskItem = item;
    if (seen) seen.observe(li);
    if (withBox) {
      var box = el("input", { type: "checkbox", id: "bsk-" + index + "-" + item.product_id, checked: "", "aria-label": block_text("include", "Include") + " " + item.title });
      box.addEventListener("change", onChange);
      li.appendChild(box);
      li.box = box;
    }
    var link = el("a", { href: item.url || "#" });
    link.addEventListener("click", function () { track(block, "click", item); flush(); });
    // No image, or a broken one: a neutral tile of the same size instead of the browser's icon.
    var tile = el("i", { "class": "ph" }), img = item.image_url ? el("img", { src: item.image_url, alt: "", width: "300", height: "300", loading: "lazy", decoding: "async" }) : tile;
    img.onerror = function () { img.replaceWith(tile); };
    link.appendChild(img);
    link.appendChild(el("span", {}, item.title));
    li.appendChild(link);
    li.appendChild(el("span", { "class": "p" }, money(item.price, item.currency)));
    var why = el("details");
    why.appendChild(el("summary", {}, block_text("why", "Why this?")));
    why.appendChild(el("p", {}, item.explanation));
    li.appendChild(why);
    return li;
  }

  var labels = (window.BasketryLabels || {});
  function block_text(key, fallback) { return labels[key] || fallback; }

  function render(block, data, serial) {
    // How the merchant set the block up in the dashboard; what the theme sets on the block wins.
    var cfg = data.block || {}, kind = block.dataset.basketry, headingId = "bsk-h-" + serial;
    block.textContent = "";
    block.hidden = cfg.enabled === false || !data.items.length;
    if (block.hidden) return;
    if (block.bskLayout) block.classList.remove(block.bskLayout);
    block.classList.add(block.bskLayout = "bsk-" + (block.dataset.layout || cfg.layout || "grid"));
    var computed = getComputedStyle(block);
    ["accent", "text"].forEach(function (name) {
      if (cfg[name] && !computed.getPropertyValue("--basketry-" + name).trim()) block.style.setProperty("--basketry-" + name, cfg[name]);
    });
    // A translated label beats the English default title, but not a title the merchant chose.
    var title = cfg.title && cfg.title !== TITLES[kind] ? cfg.title : block_text(kind, TITLES[kind]);
    var section = el("section", { "aria-labelledby": headingId });
    section.appendChild(el("h2", { id: headingId }, block.dataset.title || title));
    var list = el("ul", { role: "list" });
    var bundle = kind === "bought_together";
    var status = el("p", { "class": "sr", role: "status", "aria-live": "polite" });
    var total = bundle ? el("p", { "class": "t" }) : null;
    var rows = [];
    function update() {
      var sum = 0, chosen = rows.filter(function (r) { return r.li.box.checked; });
      chosen.forEach(function (r) { sum += parseFloat(r.item.price); });
      total.textContent = block_text("total", "Total") + ": " + money(sum.toFixed(2), data.items[0].currency);
      button.disabled = !chosen.length;
    }
    data.items.forEach(function (item, i) {
      var li = card(block, item, bundle, serial, update);
      rows.push({ li: li, item: item });
      list.appendChild(li);
    });
    section.appendChild(list);
    if (bundle) {
      var button = el("button", { type: "button" }, block_text("add", "Add selected to cart"));
      button.addEventListener("click", function () {
        var chosen = rows.filter(function (r) { return r.li.box.checked; }).map(function (r) { return r.item; });
        chosen.forEach(function (item) { track(block, "add_to_cart", item); });
        flush();
        addToCart(block, chosen).then(function () { status.textContent = block_text("added", "Added to cart"); },
          function () { status.textContent = block_text("failed", "Could not add to cart"); });
      });
      section.appendChild(total);
      section.appendChild(button);
      update();
    }
    section.appendChild(status);
    block.appendChild(section);
  }

  function load(block, serial) {
    // Without data-limit the dashboard's item count for the block applies.
    var q = new URLSearchParams({ shop: block.dataset.shop, type: block.dataset.basketry, product_id: block.dataset.productId || "" });
    if (block.dataset.limit) q.set("limit", block.dataset.limit);
    if (block.dataset.cart) q.set("cart", block.dataset.cart);
    // Related leaves out what the page's bought-together block for the product shows.
    if (block.dataset.basketry == "related" && document.querySelector('[data-basketry=bought_together][data-product-id="' + window.CSS.escape(q.get("product_id")) + '"]')) q.set("beside", "bought_together");
    if (block.dataset.customerToken) q.set("customer_token", block.dataset.customerToken);
    var v = visitor();
    if (v) q.set("visitor", v);
    // Only the latest answer is drawn when a block is refreshed while a request is under way.
    var ticket = block.bskTicket = (block.bskTicket || 0) + 1;
    fetch(BASE + "recommendations?" + q.toString())
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        if (data.experiment) exposed(block, data.experiment);
        if (ticket === block.bskTicket) render(block, data, serial);
      }, function () { block.hidden = true; });
  }

  function start() {
    if (!document.getElementById("bsk-css")) {
      var style = el("style", { id: "bsk-css" }, CSS);
      document.head.appendChild(style);
    }
    var blocks = Array.prototype.slice.call(document.querySelectorAll("[data-basketry]"));
    var serial = 0;
    var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) { observer.unobserve(entry.target); load(entry.target, entry.target.bskSerial); }
      });
    }, { rootMargin: "200px" }) : null;
    blocks.forEach(function (block) {
      block.classList.add("bsk");
      block.bskSerial = ++serial;
      // A page that changes a block's data-* attributes (the dashboard's preview) asks for a redraw.
      block.addEventListener("basketry:refresh", function () { load(block, block.bskSerial); });
      if (observer) observer.observe(block); else load(block, block.bskSerial);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
