// Report pages (templates/reports/report_detail.html): "select all" for the rows a report action acts on.
// A static file, not an inline script: the Content-Security-Policy allows scripts from 'self' (with a nonce) only.
document.addEventListener("DOMContentLoaded", () => {
	const all = document.getElementById("select-all-rows");
	if (!all) {
		return;
	}
	const boxes = () => document.querySelectorAll("#report-table input.row-select");
	all.addEventListener("change", () => {
		for (const box of boxes()) {
			box.checked = all.checked;
		}
	});
	for (const box of boxes()) {
		box.addEventListener("change", () => {
			const list = Array.from(boxes());
			all.checked = list.every((item) => item.checked);
			all.indeterminate = !all.checked && list.some((item) => item.checked);
		});
	}
});
