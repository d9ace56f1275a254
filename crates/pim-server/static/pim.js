// pim's portal: small progressive enhancements. Every page works without this script.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // A "select all" checkbox ticks the boxes named by its data-select-all attribute: those of its
  // own form when it is in one (a page may have several such forms), else those of the page.
  for (const all of document.querySelectorAll("input[data-select-all]")) {
    all.addEventListener("change", () => {
      const boxes = all.form
        ? Array.from(all.form.elements).filter((e) => e.name === all.dataset.selectAll)
        : document.querySelectorAll(`input[name="${all.dataset.selectAll}"]`);
      for (const box of boxes) {
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
