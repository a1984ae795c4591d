// The twin-graph explorer: every twin, searched by id, name or model and filtered by model
// (a base model such as Machine also finds the models that extend it). A click selects the
// twin; the panel then follows its relationships.

import { el } from "./dom.js";

export class Explorer {
  constructor({ search, model, list, count }, { onSelect }) {
    this.search = search;
    this.model = model;
    this.list = list;
    this.count = count;
    this.onSelect = onSelect;
    this.selected = null;
    search.addEventListener("input", () => this.render());
    model.addEventListener("change", () => this.render());
  }

  setGraph(graph, state) {
    this.graph = graph;
    this.state = state;
    const used = new Set();
    for (const id of graph.twins.keys()) for (const m of graph.catalog.ancestors(graph.modelOf(id))) used.add(m);
    const current = this.model.value;
    const options = [...used]
      .map((id) => ({ id, label: graph.catalog.label(id) }))
      .sort((a, b) => a.label.localeCompare(b.label));
    this.model.replaceChildren(
      el("option", { value: "" }, "All models"),
      ...options.map((o) => el("option", { value: o.id }, o.label)),
    );
    this.model.value = used.has(current) ? current : "";
    this.render();
  }

  select(twinId) {
    this.selected = twinId;
    for (const item of this.list.children) item.classList.toggle("selected", item.dataset.twin === twinId);
  }

  /** Refresh one twin's state dot. */
  update(twinId) {
    const item = [...this.list.children].find((li) => li.dataset.twin === twinId);
    if (item) item.querySelector(".dot").className = `dot state-${this.state.get(twinId, "state") ?? "none"}`;
  }

  render() {
    const { graph } = this;
    const words = this.search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const base = this.model.value;
    const matches = graph.ids().filter((id) => {
      const model = graph.modelOf(id);
      if (base && !graph.catalog.isA(model, base)) return false;
      const doc = graph.twins.get(id);
      const haystack = `${id} ${doc.name ?? ""} ${graph.catalog.label(model)} ${model}`.toLowerCase();
      return words.every((w) => haystack.includes(w));
    });
    this.list.replaceChildren(
      ...matches.map((id) =>
        el("li", { "data-twin": id, class: id === this.selected ? "selected" : "", onclick: () => this.onSelect(id) },
          el("span", { class: `dot state-${this.state.get(id, "state") ?? "none"}` }),
          el("span", { class: "twin-id" }, id),
          el("span", { class: "muted small" }, graph.catalog.label(graph.modelOf(id))))),
    );
    this.count.textContent = `${matches.length} of ${graph.twins.size} twins`;
  }
}
