/*
 * Live line totals while a sales order draft is edited: net = qty x price x (1 - line %) x (1 - order %),
 * tax on the rounded net. An empty price shows "list price" until saved; the saved figures
 * (computed by orders.pricing) replace these estimates on save.
 * Loaded as a static file (no inline script: Content-Security-Policy); the translated
 * "list price" label comes from the data-list-price-label attribute of this script tag.
 */
(function () {
    "use strict";
    var script = document.currentScript;
    var listPriceLabel = (script && script.dataset.listPriceLabel) || "list price";

    function number(input) {
        if (!input || input.value.trim() === "") { return null; }
        var value = parseFloat(input.value.replace(",", "."));
        return isNaN(value) ? null : value;
    }
    function cents(value) { return (Math.round(value * 100) / 100).toFixed(2); }
    function readonlyCell(row, name) {
        var cell = row.querySelector("td.field-" + name);
        return cell ? (cell.querySelector(".readonly") || cell.querySelector("p") || cell) : null;
    }
    function orderDiscount() {
        return number(document.querySelector("input[name='discount_percent']")) || 0;
    }
    function update(row) {
        var field = function (name) { return row.querySelector("input[name$='-" + name + "']"); };
        var quantity = number(field("quantity"));
        var price = number(field("unit_price"));
        var discount = number(field("discount_percent")) || 0;
        var netCell = readonlyCell(row, "net_amount");
        var totalCell = readonlyCell(row, "total_amount");
        var taxCell = readonlyCell(row, "tax_rate");
        if (!netCell || !totalCell) { return; }
        if (quantity === null || price === null) {
            netCell.textContent = quantity === null ? "—" : listPriceLabel;
            totalCell.textContent = "—";
            return;
        }
        var net = Math.round(quantity * price * (100 - discount) * (100 - orderDiscount()) / 100) / 100;
        var rate = taxCell ? parseFloat(taxCell.textContent.replace(",", ".")) : NaN;
        netCell.textContent = cents(net);
        totalCell.textContent = isNaN(rate) ? cents(net) : cents(net + Math.round(net * rate) / 100);
    }
    document.addEventListener("input", function (event) {
        if (event.target.name === "discount_percent") {
            document.querySelectorAll("tr.form-row").forEach(update);
            return;
        }
        var row = event.target.closest("tr.form-row");
        if (row && /-(quantity|unit_price|discount_percent)$/.test(event.target.name || "")) { update(row); }
    });
})();
