"use strict";
// The language switch takes effect as soon as a language is picked (without JavaScript, its button does).
document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll(".language-switch select")) {
    select.addEventListener("change", () => select.form.submit());
  }
});
