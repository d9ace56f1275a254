// pim's portal: small progressive enhancements. Every page works without this script.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // A "select all" checkbox ticks the boxes named by its data-select-all attribute.
  for (const all of document.querySelectorAll("input[data-select-all]")) {
    all.addEventListener("change", () => {
      for (const box of document.querySelectorAll(`input[name="${all.dataset.selectAll}"]`)) {
        box.checked = all.checked;
      }
    });
  }
  // Buttons with data-confirm ask before their form is sent.
  for (const button of document.querySelectorAll("button[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }
});
