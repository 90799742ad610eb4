/*
 * Order entry while typing (sales orders, purchase orders, stock transfers).
 *
 * Sales orders: every change of the form (customer, warehouse, a line's product, quantity, price,
 * discount, the order discount or shipping charge) posts the form's state to the live-totals endpoint,
 * which prices it with the same code saving uses (orders.services.sales_order_preview) and answers each
 * line's tax rate, net, tax, total and stock in the order's warehouse, and the order totals. Nothing is
 * computed here, so what the form shows is what the saved order will hold.
 * Purchase orders and transfers: the stock figures of the lines' products in the document's warehouse
 * (the transfer's source) from the stock-figures endpoint.
 * Every line picker's dropdown shows each product's price, tax and stock in that warehouse.
 *
 * A static file (Content-Security-Policy: no inline script); settings come from this script tag's data-.
 */
(function () {
    "use strict";
    var script = document.currentScript;
    var $ = window.django && window.django.jQuery;
    if (!script || !$) { return; }
    var config = script.dataset;
    var mode = config.mode;
    var editable = config.editable === "true";
    var form = script.closest("form");
    if (!form) { return; }
    var csrf = form.querySelector("input[name=csrfmiddlewaretoken]");
    var PREFIX = "lines";

    function label(name, values) {
        var text = config["label" + name] || "";
        Object.keys(values || {}).forEach(function (key) { text = text.replace("{" + key + "}", values[key]); });
        return text;
    }
    function field(name) { return form.querySelector("[name='" + name + "']"); }
    function value(name) {
        var element = field(name);
        return element ? element.value : "";
    }
    function warehouse() { return value(config.warehouseField) || config.warehouse || ""; }
    function customer() { return value("customer") || config.customer || ""; }

    function rows() {
        return Array.prototype.filter.call(form.querySelectorAll("#" + PREFIX + "-group tr.form-row"), function (row) {
            var input = row.querySelector("[name^='" + PREFIX + "-'][name$='-product']");
            return input && input.name.indexOf("__prefix__") === -1;
        });
    }
    function rowKey(row) {
        var product = row.querySelector("[name$='-product']");
        return product.name.replace(/-product$/, "");
    }
    function rowInput(row, name) { return form.querySelector("[name='" + rowKey(row) + "-" + name + "']"); }
    function cell(row, name) {
        var td = row.querySelector("td.field-" + name);
        return td ? (td.querySelector(".readonly") || td) : null;
    }
    function setText(row, name, text) {
        var target = cell(row, name);
        if (target) { target.textContent = text; }
    }

    function stockParts(stock) {
        if (!stock) { return ["—"]; }
        if (mode === "purchase") {
            return [stock.on_hand + " " + label("OnHand"), stock.incoming + " " + label("Incoming"),
                label("ReorderPoint") + " " + stock.reorder_point];
        }
        if (mode === "transfer") { return [stock.available + " " + label("Available")]; }
        return [stock.available + " " + label("Available"), stock.incoming + " " + label("Incoming")];
    }
    function stockText(stock) { return stockParts(stock).join(" · "); }
    function percent(rate) { return String(rate).replace(/\.?0+$/, "") + "%"; }
    function showStock(row, stock, warning) {
        var target = cell(row, "stock");
        if (!target) { return; }
        target.textContent = "";
        target.setAttribute("title", stockText(stock));
        stockParts(stock).forEach(function (part) {
            var figure = document.createElement("span");
            figure.className = "line-entry-stock";
            figure.textContent = part;
            target.appendChild(figure);
        });
        if (warning) {
            var flag = document.createElement("span");
            flag.className = "line-entry-flag";
            flag.setAttribute("role", "status");
            flag.textContent = warning;
            target.appendChild(flag);
        }
        row.classList.toggle("line-entry-short", Boolean(warning));
    }

    // -- requests: debounced, and only the answer to the latest request is shown -------------------
    var timer = null;
    var sequence = 0;
    function schedule() {
        window.clearTimeout(timer);
        timer = window.setTimeout(refresh, 200);
    }
    function refresh() {
        var current = ++sequence;
        var request = mode === "sales" ? salesRequest() : figuresRequest();
        if (!request) { return; }
        fetch(request.url, request.options)
            .then(function (response) { return response.ok ? response.json() : null; })
            .then(function (data) { if (data && current === sequence) { request.apply(data); } })
            .catch(function () { /* offline or refused: the saved figures still appear on save */ });
    }

    // -- sales orders ---------------------------------------------------------------------------------
    var filledAddress = null;
    function salesRequest() {
        var lines = rows().map(function (row) {
            var id = rowInput(row, "id");
            var remove = rowInput(row, "DELETE");
            return {
                key: rowKey(row),
                id: id && id.value ? parseInt(id.value, 10) : null,
                product: rowInput(row, "product").value,
                quantity: (rowInput(row, "quantity") || {}).value || "",
                unit_price: (rowInput(row, "unit_price") || {}).value || "",
                discount_percent: (rowInput(row, "discount_percent") || {}).value || "",
                delete: Boolean(remove && remove.checked)
            };
        });
        var body = {
            order: config.document || null,
            customer: customer(),
            warehouse: warehouse(),
            discount_percent: value("discount_percent"),
            shipping_charge: value("shipping_charge"),
            lines: lines
        };
        return {
            url: config.url,
            options: {
                method: "POST",
                credentials: "same-origin",
                headers: {"Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.value : ""},
                body: JSON.stringify(body)
            },
            apply: applySales
        };
    }
    function applySales(data) {
        var byKey = {};
        data.lines.forEach(function (line) { byKey[line.key] = line; });
        rows().forEach(function (row) {
            var line = byKey[rowKey(row)];
            var price = rowInput(row, "unit_price");
            if (!line || !line.product) {
                ["tax_rate", "net_amount", "tax_amount", "total_amount"].forEach(function (name) {
                    setText(row, name, "—");
                });
                if (price) { price.placeholder = label("ListPrice"); }
                showStock(row, null, line && line.error);
                return;
            }
            if (price) { price.placeholder = line.list_price; }
            setText(row, "tax_rate", line.tax_rate);
            setText(row, "net_amount", line.net_display || "—");
            setText(row, "tax_amount", line.tax_display || "—");
            setText(row, "total_amount", line.total_display || "—");
            var warning = line.error || (line.short > 0 ? label("Short", {n: line.short}) : "");
            showStock(row, line.stock, warning);
        });
        var totals = data.totals_display;
        ["subtotal", "tax_total", "shipping", "total"].forEach(function (name) {
            setHeader(name, totals ? totals[name] : "—");
        });
        setNote(data.error || (data.incomplete ? label("Excluding") : ""));
        var address = field("shipping_address");
        if (address && data.shipping_address && (!address.value.trim() || address.value === filledAddress)) {
            address.value = data.shipping_address;
            filledAddress = address.value;
        }
    }
    function headerCell(name) { return form.querySelector("[data-live-total='" + name + "']"); }
    function setHeader(name, text) {
        var target = headerCell(name);
        if (target) { target.textContent = text; }
    }
    function setNote(text) {
        var total = headerCell("total");
        if (!total) { return; }
        var note = form.querySelector(".line-entry-note");
        if (!note) {
            note = document.createElement("p");
            note.className = "line-entry-note";
            total.parentNode.parentNode.appendChild(note);
        }
        note.textContent = text;
    }

    // -- purchase orders and transfers -------------------------------------------------------------------
    function figuresRequest() {
        var where = warehouse();
        var ids = [];
        rows().forEach(function (row) {
            var product = rowInput(row, "product").value;
            if (product && ids.indexOf(product) === -1) { ids.push(product); }
        });
        if (!where || !ids.length) {
            rows().forEach(function (row) { showStock(row, null, ""); });
            return null;
        }
        var query = "?warehouse=" + encodeURIComponent(where) +
            ids.map(function (id) { return "&product=" + encodeURIComponent(id); }).join("");
        return {url: config.url + query, options: {credentials: "same-origin"}, apply: applyFigures};
    }
    function applyFigures(data) {
        var left = {};
        Object.keys(data.products).forEach(function (id) { left[id] = data.products[id].available; });
        rows().forEach(function (row) {
            var product = rowInput(row, "product").value;
            var stock = data.products[product] || null;
            var warning = "";
            var quantity = parseInt((rowInput(row, "quantity") || {}).value || "", 10);
            var remove = rowInput(row, "DELETE");
            if (mode === "transfer" && stock && quantity > 0 && !(remove && remove.checked)) {
                if (quantity > Math.max(left[product], 0)) {
                    warning = label("Over", {n: stock.available, warehouse: data.warehouse});
                }
                left[product] -= quantity;
            }
            showStock(row, stock, warning);
        });
    }

    // -- the product pickers: warehouse (and customer) sent along, figures shown under each product ------
    $.ajaxPrefilter(function (options) {
        if (!/\/autocomplete\//.test(options.url || "") || typeof options.data !== "string") { return; }
        if (!/field_name=product/.test(options.data) || !/model_name=\w*line/.test(options.data)) { return; }
        options.data += "&warehouse=" + encodeURIComponent(warehouse());
        if (mode === "sales") { options.data += "&customer=" + encodeURIComponent(customer()); }
    });
    function describe(item) {
        if (item.loading || !item.sku) { return item.text; }
        var box = document.createElement("span");
        box.className = "line-entry-option";
        var name = document.createElement("span");
        name.textContent = item.text;
        var details = document.createElement("span");
        details.className = "line-entry-option-details";
        var parts = [];
        if (mode === "purchase") {
            parts.push(item.cost);
        } else if (mode === "sales") {
            parts.push(item.price, label("Tax") + " " + percent(item.tax_rate));
        }
        parts.push(stockText(item.stock));
        details.textContent = parts.join(" · ");
        box.appendChild(name);
        box.appendChild(details);
        return box;
    }
    $(document).on("select2:opening", "select[name^='" + PREFIX + "-'][name$='-product']", function () {
        var select2 = $(this).data("select2");
        if (select2) { select2.options.set("templateResult", describe); }
    });

    if (!editable) { return; }
    // -- what triggers a refresh -------------------------------------------------------------------------
    var watched = /^(customer|warehouse|from_warehouse|discount_percent|shipping_charge)$|^lines-\d+-(product|quantity|unit_price|discount_percent|DELETE)$/;
    form.addEventListener("input", function (event) {
        if (watched.test(event.target.name || "")) { schedule(); }
    });
    $(form).on("change", "select, input[type=checkbox]", function () {
        if (watched.test(this.name || "")) { schedule(); }
    });
    document.addEventListener("formset:added", schedule);
    document.addEventListener("formset:removed", schedule);
    schedule();
})();
