// The explore grid: the query builder writes the page's URL and asks /api/images for the
// matches, a page of tiles at a time as the grid scrolls into view (infinite scroll; the
// thumbnails load lazily). Plain JavaScript, no libraries.
"use strict";
(function () {
  const meta = JSON.parse(document.getElementById("meta").textContent);
  const form = document.getElementById("builder");
  const grid = document.getElementById("grid");
  const total = document.getElementById("total");
  const note = document.getElementById("note");
  const end = document.getElementById("end");
  const api = document.getElementById("api");
  const $ = (id) => document.getElementById(id);
  const fields = ["true", "pred", "model", "group", "score", "min", "max", "review", "erasure"];
  const managed = new Set(["right", "wrong", "sort", "show", ...meta.flags, ...fields]);
  let extra = [];  // parameters of the URL the builder has no control for (pair=...): kept
  let generation = 0, offset = 0, done = false, loading = false, query = "";

  // ---------------------------------------------------------------- the builder and the URL
  function classValue(text) {  // "12: tiger shark" -> "12"; anything else is sent as typed
    const m = /^\s*(\d+)\s*:/.exec(text);
    return m ? m[1] : text.trim();
  }

  function classText(value) {
    return /^\d+$/.test(value) && meta.class_names && meta.class_names[+value] !== undefined
      ? value + ": " + meta.class_names[+value] : value;
  }

  function rows() { return Array.from(form.querySelectorAll("tr[data-model]")); }

  function readForm() {
    const p = new URLSearchParams();
    for (const tr of rows()) {
      const on = tr.querySelector(".seg button.on");
      if (on && on.dataset.v) p.append(on.dataset.v, tr.dataset.model);
    }
    for (const flag of meta.flags) if (form.elements[flag].checked) p.set(flag, "1");
    for (const f of fields) {
      const el = $(f);
      if (!el || !el.value.trim()) continue;
      if (f === "min" || f === "max") { if (!$("score").value) continue; }
      p.set(f, f === "true" || f === "pred" ? classValue(el.value) : el.value.trim());
    }
    const sort = $("sort").value;
    if (sort !== "index" || $("desc").checked) p.set("sort", ($("desc").checked ? "-" : "") + sort);
    for (const [k, v] of extra) p.append(k, v);
    return p;
  }

  function shown() {  // models picked to show on the tiles (none: the server shows those the query names)
    return rows().filter((tr) => tr.querySelector(".show").checked).map((tr) => tr.dataset.model);
  }

  function fillClassList() {  // the class names, offered once a class field is used
    const list = $("classlist");
    if (list.childElementCount || !meta.class_names) return;
    const frag = document.createDocumentFragment();
    meta.class_names.forEach((name, i) => {
      const o = document.createElement("option");
      o.value = i + ": " + name;
      frag.appendChild(o);
    });
    list.appendChild(frag);
  }

  function writeForm(p) {
    extra = [...p].filter(([k]) => !managed.has(k));
    const box = $("extra");
    box.replaceChildren();
    for (const [k, v] of extra) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "btn small";
      b.textContent = k + "=" + v + " ×";
      b.title = "remove this condition";
      b.addEventListener("click", () => {
        extra = extra.filter((x) => x[0] !== k || x[1] !== v);
        b.remove();
        refresh(true);
      });
      box.appendChild(b);
    }
    for (const tr of rows()) {
      const v = p.getAll("right").includes(tr.dataset.model) ? "right"
        : p.getAll("wrong").includes(tr.dataset.model) ? "wrong" : "";
      tr.querySelectorAll(".seg button").forEach((b) => b.classList.toggle("on", b.dataset.v === v));
      tr.querySelector(".show").checked = p.getAll("show").includes(tr.dataset.model);
    }
    for (const flag of meta.flags) form.elements[flag].checked = p.get(flag) === "1";
    for (const f of fields) {
      const el = $(f);
      if (!el) continue;
      const v = p.get(f) || "";
      el.value = f === "true" || f === "pred" ? classText(v) : v;
    }
    let sort = p.get("sort") || "index";
    $("desc").checked = sort.startsWith("-");
    if (sort.startsWith("-")) sort = sort.slice(1);
    $("sort").value = sort;
  }

  // ---------------------------------------------------------------- the grid
  function tile(item) {
    const a = document.createElement("a");
    a.className = "tile";
    a.href = "/explore/image/" + encodeURIComponent(item.sample_id) + (query ? "?" + query : "");
    a.dataset.sample = item.sample_id;
    if (meta.has_images) {  // a store without pixels: ids and predictions only
      const pic = document.createElement("div");
      pic.className = "pic";
      const img = document.createElement("img");
      img.loading = "lazy";
      img.decoding = "async";
      img.alt = item.sample_id;
      img.src = "/thumbs/" + item.index;
      pic.appendChild(img);
      a.appendChild(pic);
    }
    const line = (cls, text, title) => {
      const d = document.createElement("div");
      d.className = cls;
      d.textContent = text;
      if (title) d.title = title;
      a.appendChild(d);
    };
    line("id", item.sample_id, item.sample_id);
    line("lab", item.label_name === null ? "label unknown" : item.label_name, "label");
    for (const p of item.predictions) {
      const name = p.name === null ? "no prediction" : p.name;
      line("p " + (p.right ? "right" : "wrong"), (p.right ? "✓ " : "✗ ") + name + " · " + p.model, p.model + ": " + name);
    }
    return a;
  }

  function show(body, ok, status) {  // one page of the answer, or its error
    if (!ok) {
      total.textContent = "–";
      note.textContent = body.error || ("error " + status);
      done = true;
      return;
    }
    note.textContent = "";
    total.textContent = body.total.toLocaleString("en-US") + (body.total === 1 ? " image" : " images");
    const frag = document.createDocumentFragment();
    body.items.forEach((item) => frag.appendChild(tile(item)));
    grid.appendChild(frag);
    offset += body.items.length;
    done = offset >= body.total || body.items.length === 0;
    end.textContent = done ? (body.total ? "All " + body.total.toLocaleString("en-US") + " shown." : "No image matches.") : "";
  }

  async function fetchPage() {
    if (loading || done) return;
    loading = true;
    const mine = generation;
    const p = new URLSearchParams(query);
    p.set("include", "items");
    p.set("offset", offset);
    p.set("limit", meta.page_size);
    for (const m of shown()) p.append("show", m);
    try {
      const r = await fetch("/api/images?" + p.toString(), {headers: {accept: "application/json"}});
      const body = await r.json();
      if (mine !== generation) return;
      show(body, r.ok, r.status);
    } catch (e) {
      if (mine === generation) note.textContent = "could not reach the server: " + e;
    } finally {
      if (mine === generation) loading = false;
    }
    if (!done && mine === generation && nearEnd()) fetchPage();
  }

  function nearEnd() {
    return $("sentinel").getBoundingClientRect().top < window.innerHeight + 600;
  }

  function refresh(push, first) {
    const p = readForm();
    for (const m of rows().filter((tr) => tr.querySelector(".show").checked)) p.append("show", m.dataset.model);
    query = new URLSearchParams([...p].filter(([k]) => k !== "show")).toString();
    const url = "/explore" + (p.toString() ? "?" + p.toString() : "");
    if (push) history.replaceState(null, "", url);
    api.href = "/api/images" + (query ? "?" + query : "");
    generation += 1;
    offset = 0;
    done = false;
    loading = false;
    grid.replaceChildren();
    total.textContent = "…";
    end.textContent = "";
    if (first) {  // the page came with its first tiles
      show(first, !first.error, 400);
      if (!done && nearEnd()) fetchPage();
    } else {
      fetchPage();
    }
  }

  // ---------------------------------------------------------------- events
  form.addEventListener("click", (e) => {
    const b = e.target.closest(".seg button");
    if (!b) return;
    b.parentElement.querySelectorAll("button").forEach((x) => x.classList.toggle("on", x === b));
    refresh(true);
  });
  form.addEventListener("change", () => refresh(true));
  let typing = null;
  form.addEventListener("input", (e) => {
    if (e.target.type !== "text" && e.target.type !== "number") return;
    clearTimeout(typing);
    typing = setTimeout(() => refresh(true), 350);
  });
  $("reset").addEventListener("click", () => {
    writeForm(new URLSearchParams());
    refresh(true);
  });
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) fetchPage();
  }, {rootMargin: "600px"}).observe($("sentinel"));

  form.addEventListener("focusin", (e) => { if (e.target.list) fillClassList(); });
  writeForm(new URLSearchParams(location.search));
  refresh(false, meta.first);
})();
