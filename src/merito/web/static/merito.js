// Progressive enhancement only: every page works without this file (plain forms and links).
(function () {
  "use strict";

  // The verify page's drop zone: highlight while a file is dragged over, show the chosen name.
  function enhanceDropzone(zone) {
    var input = zone.querySelector('input[type="file"]');
    var status = zone.querySelector("[data-file-name]");
    if (!input) { return; }
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("is-dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("is-dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        input.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
    input.addEventListener("change", function () {
      if (status) {
        status.textContent = input.files.length ? input.files[0].name : "";
      }
    });
  }

  function init(root) {
    (root || document).querySelectorAll("[data-dropzone]").forEach(enhanceDropzone);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });

  // After htmx swaps a result in, move focus to it so screen readers and keyboards follow.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    var heading = target && target.querySelector("[data-focus-on-swap]");
    if (heading) { heading.focus(); }
  });
}());
