/* Packing slip: the Print button (a static script: the Content-Security-Policy forbids inline handlers). */
document.addEventListener("DOMContentLoaded", function () {
    "use strict";
    var button = document.getElementById("print-button");
    if (button) {
        button.addEventListener("click", function () { window.print(); });
    }
});
