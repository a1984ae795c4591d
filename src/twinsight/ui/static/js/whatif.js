// The what-if panel (docs/scenarios.md): fork the simulated twins as they are now, change
// parameters or inputs of some of them, run ahead, and compare the scenario with the
// unchanged baseline — a table of every recorded output and the server's plot of the ones
// that moved most. The server checks every change; its refusal is shown as it words it.

import { ApiError, postJSON } from "./api.js";
import { el, formatValue } from "./dom.js";

const HORIZONS = [["30 min", 1800], ["1 h", 3600], ["2 h", 7200], ["4 h", 14400], ["8 h", 28800], ["24 h", 86400]];
const PLOTTED = 3;

/** Names to suggest per shape; only suggestions: the server knows the models' real
 *  variables, and names it lists in a refusal are added to these. */
const HINTS = {
  motor: { parameter: ["rated_power", "efficiency", "rated_life", "max_speed"], input: ["running", "speed_setpoint", "ambient_temperature", "bearing_fault"], example: ["parameter", "rated_power", "22"] },
  pump: { parameter: ["shutoff_head", "bep_flow", "static_head", "system_coefficient"], input: ["cavitation"], example: ["parameter", "static_head", "20"] },
  tank: { parameter: ["valve_coefficient", "area", "max_level"], input: ["valve_opening"], example: ["input", "valve_opening", "0.5"] },
  conveyor: { parameter: ["nominal_speed", "max_speed", "lot_size"], input: ["running", "belt_speed_setpoint"], example: ["input", "belt_speed_setpoint", "0.5"] },
};

export class WhatIfPanel {
  constructor(root) {
    this.root = root;
    this.scenario = null;
    this.learned = new Map();
    this.root.replaceChildren(
      el("h2", {}, "What if …?"),
      el("p", { class: "muted small" }, "Fork the simulated plant as it is now, change something, run ahead on simulated time and compare with the unchanged baseline. Live twins are never touched."),
      (this.forkButton = el("button", { class: "primary", id: "whatif-fork", onclick: () => this.fork() }, "Fork current state")),
      (this.forkInfo = el("p", { class: "small", id: "whatif-fork-info" })),
      (this.form = el("form", { id: "whatif-form", hidden: true })),
      (this.message = el("div", { id: "whatif-message", role: "alert" })),
      (this.result = el("div", { id: "whatif-result" })),
      (this.datalist = el("datalist", { id: "whatif-names" })),
    );
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.run();
    });
  }

  setGraph(graph) {
    this.graph = graph;
  }

  async fork() {
    this.forkButton.disabled = true;
    this.#say("");
    try {
      this.scenario = await postJSON("/scenarios", { name: `what-if ${new Date().toLocaleTimeString()}` });
      const when = new Date(this.scenario.forkedAt).toLocaleTimeString();
      this.forkInfo.textContent = `Forked ${this.scenario.twins.length} simulated twins at ${when} (scenario ${this.scenario.id}).`;
      for (const note of this.scenario.notes ?? []) this.forkInfo.append(el("br"), el("span", { class: "muted" }, note));
      this.forkButton.textContent = "Fork again (from now)";
      this.#buildForm();
      this.result.replaceChildren();
    } catch (err) {
      this.#say(err instanceof ApiError && err.code === "NoSimulation" ? "This platform simulates no world, so there is nothing to fork." : `Cannot fork: ${err.message}`, "error");
    } finally {
      this.forkButton.disabled = false;
    }
  }

  async run() {
    const changes = { parameters: {}, inputs: {} };
    for (const row of this.form.querySelectorAll(".change")) {
      const twin = row.querySelector("[name=twin]").value;
      const kind = row.querySelector("[name=kind]").value;
      const name = row.querySelector("[name=name]").value.trim();
      const raw = row.querySelector("[name=value]").value.trim();
      if (!name) continue;
      const group = kind === "input" ? changes.inputs : changes.parameters;
      group[twin] = { ...(group[twin] ?? {}), [name]: raw !== "" && Number.isFinite(Number(raw)) ? Number(raw) : raw };
    }
    const horizon = Number(this.form.querySelector("[name=horizon]").value);
    const button = this.form.querySelector("button[type=submit]");
    button.disabled = true;
    this.result.replaceChildren();
    this.#say("Running the scenario and its baseline…", "busy");
    try {
      const done = await postJSON(`/scenarios/${this.scenario.id}/run`, { horizon, changes });
      this.#say(`Done: ${HORIZONS.find(([, s]) => s === horizon)?.[0] ?? `${horizon} s`} ahead, ${done.comparison.length} outputs compared.`, "ok");
      this.#showComparison(done);
    } catch (err) {
      this.#learn(err);
      const details = (err.details ?? []).map((d) => d.message).filter((m) => m && !err.message.includes(m));
      this.#say(`The scenario was refused: ${err.message}`, "error", details);
    } finally {
      button.disabled = false;
    }
  }

  #buildForm() {
    const twins = this.scenario.twins;
    const horizon = el("select", { name: "horizon", "aria-label": "run ahead for" },
      ...HORIZONS.map(([label, seconds]) => el("option", { value: String(seconds), selected: seconds === 7200 }, label)));
    this.rows = el("div", { class: "changes" });
    this.form.replaceChildren(
      el("h3", {}, "Changes"),
      this.rows,
      el("button", { type: "button", class: "link", onclick: () => this.#addRow() }, "+ another change"),
      el("div", { class: "run-line" }, el("label", {}, "Run ahead ", horizon), el("button", { type: "submit", class: "primary", id: "whatif-run" }, "Run")),
    );
    this.form.hidden = false;
    const motor = twins.find((t) => this.#shape(t) === "motor") ?? twins[0];
    this.#addRow(motor, ...(HINTS[this.#shape(motor)]?.example ?? ["parameter", "", ""]));
  }

  #addRow(twin = this.scenario.twins[0], kind = "parameter", name = "", value = "") {
    const twinSelect = el("select", { name: "twin", "aria-label": "twin" }, ...this.scenario.twins.map((t) => el("option", { value: t, selected: t === twin }, t)));
    const kindSelect = el("select", { name: "kind", "aria-label": "parameter or input" },
      el("option", { value: "parameter", selected: kind === "parameter" }, "parameter"),
      el("option", { value: "input", selected: kind === "input" }, "input"));
    const nameInput = el("input", { name: "name", value: name, placeholder: "name", list: "whatif-names", "aria-label": "name", autocomplete: "off" });
    const valueInput = el("input", { name: "value", value, placeholder: "value", "aria-label": "value", size: "6" });
    const row = el("div", { class: "change" }, twinSelect, kindSelect, nameInput, valueInput,
      el("button", { type: "button", class: "link", title: "remove", onclick: () => row.remove() }, "✕"));
    const suggest = () => this.#suggest(twinSelect.value, kindSelect.value);
    nameInput.addEventListener("focus", suggest);
    twinSelect.addEventListener("change", suggest);
    kindSelect.addEventListener("change", suggest);
    this.rows.append(row);
  }

  #shape(twinId) {
    return this.graph?.catalog.shape(this.graph.modelOf(twinId)) ?? null;
  }

  #suggest(twin, kind) {
    const names = new Set([...(HINTS[this.#shape(twin)]?.[kind] ?? []), ...(this.learned.get(`${twin}/${kind}`) ?? [])]);
    this.datalist.replaceChildren(...[...names].sort().map((n) => el("option", { value: n })));
  }

  /** Remember the names a refusal listed ("'line-1-motor' has no parameter 'x' (its
   *  parameters: a, b)") so the next suggestions are the model's real ones. */
  #learn(err) {
    for (const detail of [err.message, ...(err.details ?? []).map((d) => d.message)]) {
      const match = /'([^']+)' has no (parameter|input) '[^']*' \(its \w+: ([^)]*)\)/.exec(detail ?? "");
      if (match) this.learned.set(`${match[1]}/${match[2]}`, match[3].split(",").map((s) => s.trim()));
    }
  }

  #say(text, kind = "", details = []) {
    this.message.className = kind ? `message ${kind}` : "";
    this.message.replaceChildren(text ? el("p", {}, text) : "", details.length ? el("ul", {}, ...details.map((d) => el("li", {}, d))) : "");
  }

  #showComparison(done) {
    const rows = done.comparison
      .map((c) => ({ ...c, relative: c.maxAbsDifference / Math.max(Math.abs(c.baseline.final), Math.abs(c.scenario.final), 1e-9) }))
      .sort((a, b) => b.relative - a.relative);
    const moved = rows.filter((r) => r.relative > 1e-6).slice(0, PLOTTED);
    const plotted = (moved.length ? moved : rows.slice(0, 1)).map((r) => r.series);
    const query = new URLSearchParams(plotted.map((s) => ["series", s]));
    query.append("drawn", String(Date.now())); // a run again redraws: never a cached image
    const image = el("img", { class: "plot", alt: `scenario against baseline: ${plotted.join(", ")}`, id: "whatif-plot" });
    image.addEventListener("error", () => image.replaceWith(el("p", { class: "error" }, "the comparison plot could not be drawn")));
    image.src = `/scenarios/${done.id}/plot?${query}`;
    const table = el("table", { class: "comparison", id: "whatif-comparison" },
      el("thead", {}, el("tr", {}, el("th", {}, "output"), el("th", {}, "baseline"), el("th", {}, "scenario"), el("th", {}, "max |Δ|"))),
      el("tbody", {}, ...rows.map((r) => el("tr", { class: r.relative > 0.01 ? "changed" : "" },
        el("th", {}, r.series),
        el("td", {}, formatValue(r.baseline.final, r.unit)),
        el("td", {}, formatValue(r.scenario.final, r.unit)),
        el("td", {}, formatValue(r.maxAbsDifference, r.unit))))));
    const link = el("a", { href: image.src, target: "_blank", title: "open the plot full size" }, image);
    this.result.replaceChildren(el("h3", {}, "Scenario vs baseline"), link, el("p", { class: "muted small" }, "final values after the run; the plot shows the outputs that moved most"), table);
  }
}
