// The image page: nearest neighbours in the chosen model's stored feature space.
"use strict";
(function () {
  const box = document.getElementById("neighbours");
  const pick = document.getElementById("nbr-model");
  const withImages = box.dataset.images === "1";

  async function load() {
    const url = "/api/neighbours/" + encodeURIComponent(box.dataset.sample) + "?model=" +
      encodeURIComponent(pick.value) + "&k=12";
    const r = await fetch(url, {headers: {accept: "application/json"}});
    const body = await r.json();
    box.replaceChildren();
    if (!r.ok) {
      box.textContent = body.error || ("error " + r.status);
      return;
    }
    for (const n of body.neighbours) {
      const a = document.createElement("a");
      a.className = "tile";
      a.href = "/explore/image/" + encodeURIComponent(n.sample_id);
      if (withImages) {
        const pic = document.createElement("div");
        pic.className = "pic";
        const img = document.createElement("img");
        img.loading = "lazy";
        img.alt = n.sample_id;
        img.src = "/thumbs/" + n.index;
        pic.appendChild(img);
        a.appendChild(pic);
      }
      const p = n.predictions[0];
      for (const [cls, text] of [["id", n.sample_id], ["lab", n.label_name === null ? "label unknown" : n.label_name],
        ["p " + (p.right ? "right" : "wrong"), (p.right ? "✓ " : "✗ ") + (p.name === null ? "no prediction" : p.name)],
        ["id", "distance " + n.distance.toFixed(3)]]) {
        const d = document.createElement("div");
        d.className = cls;
        d.textContent = text;
        a.appendChild(d);
      }
      box.appendChild(a);
    }
  }

  pick.addEventListener("change", load);
  load();
})();
