/*
 * Workflow buttons that act in one click: a button marked data-one-click="true" (packing, delivering:
 * nothing is destroyed, no money moves) posts to its step's URL with the page's CSRF token instead of
 * opening the step's confirmation page, which remains the fallback without JavaScript.
 * A static file (Content-Security-Policy: no inline script).
 */
(function () {
    "use strict";
    document.addEventListener("click", function (event) {
        var link = event.target.closest("a[data-one-click='true']");
        var token = document.querySelector("input[name=csrfmiddlewaretoken]");
        if (!link || !token || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey) {
            return;
        }
        event.preventDefault();
        var form = document.createElement("form");
        form.method = "post";
        form.action = link.href;
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = "csrfmiddlewaretoken";
        input.value = token.value;
        form.appendChild(input);
        document.body.appendChild(form);
        form.submit();
    });
})();
