/* Phone width: the lines of a document (tabular inlines) keep their column labels.
 * Unfold hides an inline's header row below the "lg" breakpoint; this copies each header's text onto
 * the cells of its column (data-label), which backoffice.css shows in front of the value at phone
 * width. Rows added later ("Add another line") are labelled too. Loaded on every admin page
 * (UNFOLD["SCRIPTS"]); no inline script (Content-Security-Policy). */
(function () {
    "use strict";

    function labelTable(table) {
        var labels = {};
        table.querySelectorAll("thead th").forEach(function (th) {
            th.classList.forEach(function (name) {
                if (name.indexOf("column-") === 0) {
                    // The label's own span: not the help icon's ligature text ("help") next to it.
                    var label = th.querySelector("span > span") || th;
                    labels["field-" + name.slice(7)] = label.textContent.replace(/\*/g, "").replace(/\s+/g, " ").trim();
                }
            });
        });
        table.querySelectorAll("td.field-tabular").forEach(function (td) {
            td.classList.forEach(function (name) {
                if (labels[name] && !td.hasAttribute("data-label")) {
                    td.setAttribute("data-label", labels[name]);
                }
            });
        });
    }

    function labelAll() {
        document.querySelectorAll(".tabular.inline-related table").forEach(labelTable);
    }

    document.addEventListener("DOMContentLoaded", labelAll);
    document.addEventListener("formset:added", labelAll);
})();
