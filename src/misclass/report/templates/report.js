// The report's tables: small ones sort and filter in place; long ones come as JSON and are
// shown a page at a time, sorted, filtered and downloaded as CSV. No network, no libraries.
(function () {
  "use strict";
  var ints = new Intl.NumberFormat("en-US", {maximumFractionDigits: 0});
  var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});

  function filterBox(placeholder) {
    var input = document.createElement("input");
    input.className = "filter"; input.type = "search"; input.placeholder = placeholder;
    return input;
  }

  function button(text, onclick) {
    var b = document.createElement("button");
    b.type = "button"; b.textContent = text; b.addEventListener("click", onclick);
    return b;
  }

  function sortArrow(headers, th, asc) {
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
  }

  // ----- small tables: HTML rows -----
  function smallTable(table) {
    var wrap = table.parentElement, body = table.tBodies[0];
    if (!body) return;
    var box = document.createElement("div"), tools = document.createElement("div");
    var input = filterBox("Filter rows…");
    tools.className = "tools"; tools.appendChild(input);
    box.className = "table-box";  // the filter stays with its table (in a grid cell too)
    wrap.parentElement.insertBefore(box, wrap);
    box.appendChild(tools); box.appendChild(wrap);
    input.addEventListener("input", function () {
      var q = input.value.toLowerCase();
      Array.from(body.rows).forEach(function (r) {
        r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? "" : "none";
      });
    });
    var headers = Array.from(table.tHead.rows[0].cells);
    headers.forEach(function (th, col) {
      th.addEventListener("click", function () {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        sortArrow(headers, th, asc);
        var numeric = th.classList.contains("num");
        var rows = Array.from(body.rows).map(function (r, i) {
          var t = r.cells[col].textContent.trim();
          return {r: r, i: i, t: t, n: numeric ? parseFloat(t.replace(/[,%\s]/g, "")) : NaN};
        });
        rows.sort(function (a, b) {
          var c;
          if (numeric) {
            var am = isNaN(a.n), bm = isNaN(b.n);
            if (am || bm) return am === bm ? a.i - b.i : (am ? 1 : -1);  // "-" last either way
            c = a.n - b.n;
          } else {
            c = collator.compare(a.t, b.t);
          }
          return (asc ? c : -c) || a.i - b.i;
        });
        rows.forEach(function (x) { body.appendChild(x.r); });
      });
    });
  }

  // ----- long tables: JSON, paged -----
  function escapeHtml(s) {
    return s.replace(/[&<>"]/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;"}[c];
    });
  }

  function bigTable(holder, index) {
    var spec = JSON.parse(holder.querySelector("script[type='application/json']").textContent);
    var n = spec.rows, size = spec.page, digits = spec.digits, cols = spec.columns;
    var data = spec.data.map(function (d) {  // a column stored as keys + codes: decode
      if (Array.isArray(d)) return d;
      var out = new Array(d.codes.length);
      for (var i = 0; i < out.length; i++) out[i] = d.codes[i] < 0 ? null : d.keys[d.codes[i]];
      return out;
    });
    function text(c, v) {
      if (v === null || v === undefined) return "-";
      if (typeof v === "number") return cols[c].float ? v.toFixed(digits) : ints.format(v);
      return v;
    }
    var order = new Array(n), shown, page = 0, keys = {}, haystack = null, sortCol = -1, asc = true;
    for (var i = 0; i < n; i++) order[i] = i;
    shown = order;

    function sortKeys(c) {  // numbers for "num" columns, ranks of the collated text otherwise
      if (keys[c]) return keys[c];
      var k = new Float64Array(n), col = data[c], i;
      if (cols[c].kind === "num") {
        for (i = 0; i < n; i++) {
          var v = col[i];
          k[i] = v === null ? NaN : (typeof v === "number" ? v : parseFloat(String(v).replace(/[,%\s]/g, "")));
        }
      } else {
        var distinct = Array.from(new Set(col.filter(function (v) { return v !== null; })));
        distinct.sort(collator.compare);
        var rank = new Map(distinct.map(function (v, r) { return [v, r]; }));
        for (i = 0; i < n; i++) k[i] = col[i] === null ? NaN : rank.get(col[i]);
      }
      keys[c] = k;
      return k;
    }

    var scroll = document.createElement("div"), table = document.createElement("table");
    scroll.className = "scroll"; table.className = "paged";
    var thead = table.createTHead().insertRow(), tbody = table.createTBody();
    var headers = cols.map(function (col, c) {
      var th = document.createElement("th");
      th.textContent = col.name;
      if (col.kind === "num") th.className = "num";
      th.addEventListener("click", function () { sortBy(c, !(sortCol === c && asc)); });
      thead.appendChild(th);
      return th;
    });
    scroll.appendChild(table);

    var tools = document.createElement("div"), input = filterBox("Filter " + ints.format(n) + " rows…");
    var label = document.createElement("span");
    tools.className = "tools";
    var first = button("« first", function () { go(0); }), prev = button("‹ previous", function () { go(page - 1); });
    var next = button("next ›", function () { go(page + 1); });
    var last = button("last »", function () { go(Infinity); });
    var csv = button("download CSV (" + ints.format(n) + " rows)", download);
    [input, first, prev, label, next, last, csv].forEach(function (e) { tools.appendChild(e); });
    var note = holder.querySelector("p.note");
    holder.insertBefore(tools, note);
    holder.insertBefore(scroll, note);

    function render() {
      var pages = Math.max(1, Math.ceil(shown.length / size));
      page = Math.min(Math.max(0, page), pages - 1);
      var start = page * size, end = Math.min(shown.length, start + size), html = [];
      for (var r = start; r < end; r++) {
        var row = shown[r], cells = "";
        for (var c = 0; c < cols.length; c++) {
          cells += (cols[c].kind === "num" ? "<td class=num>" : "<td>") + escapeHtml(text(c, data[c][row])) + "</td>";
        }
        html.push("<tr>" + cells + "</tr>");
      }
      tbody.innerHTML = html.join("");
      label.textContent = shown.length ? ("rows " + ints.format(start + 1) + "–" + ints.format(end) + " of "
        + ints.format(shown.length) + (shown.length < n ? " (filtered from " + ints.format(n) + ")" : ""))
        : "no row matches";
      first.disabled = prev.disabled = page === 0;
      next.disabled = last.disabled = page >= pages - 1;
    }
    function go(p) { page = p === Infinity ? Math.ceil(shown.length / size) - 1 : p; render(); }

    function sortBy(c, ascending) {
      var k = sortKeys(c);
      sortCol = c; asc = ascending;
      sortArrow(headers, headers[c], asc);
      order.sort(function (a, b) {
        var x = k[a], y = k[b], xm = x !== x, ym = y !== y;  // NaN: missing, last either way
        if (xm || ym) return xm === ym ? a - b : (xm ? 1 : -1);
        return (asc ? x - y : y - x) || a - b;
      });
      applyFilter();
    }

    function applyFilter() {
      var q = input.value.trim().toLowerCase();
      if (!q) { shown = order; } else {
        if (!haystack) {
          haystack = new Array(n);
          for (var r = 0; r < n; r++) {
            var parts = [];
            for (var c = 0; c < cols.length; c++) parts.push(text(c, data[c][r]));
            haystack[r] = parts.join("\t").toLowerCase();
          }
        }
        shown = order.filter(function (r) { return haystack[r].indexOf(q) >= 0; });
      }
      page = 0;
      render();
    }
    var timer = null;
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(applyFilter, 120); });

    function download() {
      function quote(s) { return /[",\n]/.test(s) ? "\"" + s.replace(/"/g, "\"\"") + "\"" : s; }
      var lines = [cols.map(function (col) { return quote(col.name); }).join(",")];
      for (var r = 0; r < n; r++) {
        var parts = [];
        for (var c = 0; c < cols.length; c++) {
          var v = data[c][r];
          parts.push(v === null ? "" : quote(typeof v === "number" ? String(v) : v));
        }
        lines.push(parts.join(","));
      }
      var a = document.createElement("a"), section = holder.closest("section");
      a.href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], {type: "text/csv"}));
      a.download = (section ? section.id : "report") + "-table-" + (index + 1) + ".csv";
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
    }
    holder.misclassTable = {sortBy: sortBy, rows: n, shown: function () { return shown.length; }};
    render();
  }

  document.querySelectorAll("table.sortable").forEach(smallTable);
  document.querySelectorAll("section").forEach(function (section) {
    section.querySelectorAll("div.big-table").forEach(bigTable);
  });
})();
