/* The Widgets page's live preview. Each block's form drives the preview next to it before
   anything is saved, by setting on the preview block what a theme could set (data-title,
   data-limit, data-layout, the --basketry-* colours); the real widget then redraws it. Without
   JavaScript the forms still save, and colours are typed as #rrggbb. */
(function () {
  "use strict";
  var HEX = /^#[0-9a-f]{6}$/i;
  var TITLE_MAX = 80, ITEMS_MIN = 1, ITEMS_MAX = 12;
  var NOTES = {
    off: "Turned off: this block will not show on your storefront.",
    savedOff: "This block is turned off on your storefront: save it turned on to see its items here.",
    empty: "No items to show for this product yet: the lists appear after the first training."
  };

  function setData(block, key, value) {
    if (value == null) delete block.dataset[key]; else block.dataset[key] = value;
  }

  // An invalid colour is left out, so the preview keeps the saved one until the input is fixed.
  function setColour(block, name, value, whenEmpty) {
    var property = "--basketry-" + name;
    if (HEX.test(value)) block.style.setProperty(property, value);
    else if (!value && whenEmpty) block.style.setProperty(property, whenEmpty);
    else block.style.removeProperty(property);
  }

  function note(form, block) {
    var element = block.parentNode.querySelector("[data-preview-note]");
    if (!element) return;
    var message = "";
    if (!form.elements.enabled.checked) message = NOTES.off;
    else if (element.dataset.savedEnabled === "false") message = NOTES.savedOff;
    else if (block.hidden) message = NOTES.empty;
    element.textContent = message;
    element.hidden = !message;
  }

  function apply(form, block) {
    var fields = form.elements;
    var title = fields.title.value.trim();
    var items = Number(fields.items.value);
    setData(block, "title", title && title.length <= TITLE_MAX && !/[<>]/.test(title) ? title : null);
    setData(block, "limit", Number.isInteger(items) && items >= ITEMS_MIN && items <= ITEMS_MAX ? String(items) : null);
    block.dataset.layout = fields.layout.value;
    setColour(block, "accent", fields.accent.value.trim(), null);
    // An empty text colour means the theme's: here, the page's own.
    setColour(block, "text", fields.text.value.trim(), "currentcolor");
    block.style.display = fields.enabled.checked ? "" : "none";
    note(form, block);
  }

  function pickers(form) {
    Array.prototype.forEach.call(form.querySelectorAll("input[type=color][data-colour-for]"), function (picker) {
      var text = document.getElementById(picker.dataset.colourFor);
      picker.value = HEX.test(text.value.trim()) ? text.value.trim().toLowerCase() : (text.name === "accent" ? "#1f6f4a" : "#1c1c1c");
      picker.hidden = false;
      picker.addEventListener("input", function () {
        text.value = picker.value;
        text.dispatchEvent(new Event("input", { bubbles: true }));
      });
      text.addEventListener("input", function () {
        if (HEX.test(text.value.trim())) picker.value = text.value.trim().toLowerCase();
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-widget-form]"), function (form) {
    pickers(form);
    var block = document.querySelector('[data-preview-of="' + form.id + '"]');
    if (!block) return;
    var timer = null;
    function changed() {
      apply(form, block);
      clearTimeout(timer);
      // Redraw once the merchant pauses, not on every keystroke.
      timer = setTimeout(function () { block.dispatchEvent(new Event("basketry:refresh")); }, 250);
    }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    // A preview only shows: its links and buttons would leave the dashboard or fill a cart.
    block.addEventListener("click", function (event) {
      if (event.target.closest("a, button")) { event.preventDefault(); event.stopPropagation(); }
    }, true);
    new MutationObserver(function () { note(form, block); }).observe(block, { attributes: true, attributeFilter: ["hidden"] });
    apply(form, block);
  });
})();
