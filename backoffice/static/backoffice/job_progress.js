/* Live progress of a background import or export (backoffice/job_admin.py).
 *
 * A static script (the Content-Security-Policy forbids inline scripts): it reads the element
 * #job-progress (data-status-url, data-running), polls the JSON status view about once a second
 * while the job runs, updates the bar and the figures in place, and reloads the page once when
 * the job has finished so that its result (counts, bad rows, download) is shown.
 */
(function () {
    "use strict";

    function duration(seconds) {
        if (seconds === null || seconds === undefined) { return ""; }
        seconds = Math.max(0, Math.round(seconds));
        if (seconds < 60) { return seconds + " s"; }
        var minutes = Math.floor(seconds / 60);
        if (minutes < 60) { return minutes + " min " + (seconds % 60) + " s"; }
        return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
    }

    function number(value) {
        return Number(value || 0).toLocaleString("en");
    }

    function describe(data) {
        if (!data.rows_total && data.running) { return data.status_display; }
        var parts = [number(data.rows_done) + " of " + number(data.rows_total) + " rows (" + data.percent + " %)"];
        if (data.rows_per_second) { parts.push(number(data.rows_per_second) + " rows/s"); }
        if (data.running && data.seconds_left !== null && data.seconds_left !== undefined) {
            parts.push("about " + duration(data.seconds_left) + " left");
        }
        return parts.join(" · ");
    }

    function start(box) {
        var url = box.getAttribute("data-status-url");
        var bar = box.querySelector("progress");
        var text = box.querySelector("[data-progress-text]");
        var status = document.querySelector("[data-job-status]");
        var failures = 0;

        function show(data) {
            if (bar && data.percent !== undefined) { bar.value = data.percent; }
            if (text && data.rows_total !== undefined) { text.textContent = describe(data); }
            if (status) { status.textContent = data.status_display; }
        }

        function poll() {
            fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store" })
                .then(function (response) {
                    if (!response.ok) { throw new Error(String(response.status)); }
                    return response.json();
                })
                .then(function (data) {
                    failures = 0;
                    show(data);
                    if (data.running) {
                        window.setTimeout(poll, 1000);
                    } else {
                        box.setAttribute("data-running", "0");
                        window.location.reload();
                    }
                })
                .catch(function () {
                    failures += 1;
                    if (failures < 30) { window.setTimeout(poll, 3000); }
                });
        }

        if (box.getAttribute("data-running") === "1") { window.setTimeout(poll, 500); }
    }

    document.addEventListener("DOMContentLoaded", function () {
        var box = document.getElementById("job-progress");
        if (box) { start(box); }
    });
})();
