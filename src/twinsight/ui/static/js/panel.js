// The selected twin's panel: its live properties and telemetry, its relationships (click
// one to follow it) and history charts of its numeric series over a chosen time range.

import { historyRange, seriesOf } from "./api.js";
import { HistoryChart } from "./chart.js";
import { machineLook } from "./look.js";
import { unitSymbol } from "./models.js";
import { el, formatValue } from "./dom.js";
import { RulLine } from "./rul.js";

const RANGES = [["15 min", 15], ["1 h", 60], ["6 h", 360], ["24 h", 1440]];
const MAX_CHARTS = 6;
const COMPANION_SUFFIXES = ["PredictedStd", "Predicted", "Std", "Low", "High"];

/** Whether `path` accompanies another value of the model (`xStd`, `xPredicted`, `xLow`…). */
function isCompanion(path, paths) {
  return COMPANION_SUFFIXES.some((suffix) => path.endsWith(suffix) && paths.has(path.slice(0, -suffix.length)));
}

export class TwinPanel {
  constructor(root, { onFollow }) {
    this.root = root;
    this.onFollow = onFollow;
    this.twinId = null;
    this.cells = new Map();
    this.charts = new Map();
    this.rangeMinutes = 60;
    this.loadToken = 0;
  }

  show(graph, state, twinId) {
    this.graph = graph;
    this.state = state;
    this.twinId = twinId;
    for (const chart of this.charts.values()) chart.destroy();
    this.charts.clear();
    const model = graph.modelOf(twinId);
    if (!model) {
      this.root.replaceChildren(el("p", { class: "muted" }, `${twinId} no longer exists.`));
      return;
    }
    this.badge = el("span", { class: "badge" });
    this.alarm = el("p", { class: "alarm-text", hidden: true });
    this.alarmList = el("ul", { class: "twin-alarms" });
    this.table = el("table", { class: "props" });
    this.chartBox = el("div", { class: "charts" });
    this.rul = new RulLine(twinId);
    this.root.replaceChildren(
      el("header", { class: "panel-head" },
        el("h2", {}, twinId),
        el("span", { class: "muted" }, graph.catalog.label(model)),
        this.badge),
      this.alarm,
      this.alarmList,
      this.rul.element,
      el("h3", {}, "Live values"),
      this.table,
      el("h3", {}, "Relationships"),
      this.#relationships(twinId),
      el("h3", {}, "History"),
      this.#rangeButtons(),
      this.chartBox,
    );
    this.#renderValues();
    this.#loadCharts();
  }

  /** The stream changed `changed` paths of `twinId` (null: everything may have changed);
   * `event` is the stream event that did it, if one did. */
  onState(twinId, changed, event = null) {
    if (twinId !== this.twinId || !this.table) return;
    this.rul.onEvent(event);
    const paths = changed ?? [...this.state.all(twinId).keys()];
    if (paths.some((p) => !this.cells.has(p))) this.#renderValues();
    for (const path of paths) {
      const cell = this.cells.get(path);
      const entry = this.state.all(twinId).get(path);
      if (!cell || !entry) continue;
      cell.textContent = this.#format(path, entry.value);
      cell.classList.remove("flash");
      void cell.offsetWidth; // restart the highlight animation
      cell.classList.add("flash");
      if (changed) this.#chartSamples(path, entry, event);
    }
    this.#renderStatus();
  }

  /** A message with many timed samples (a SenML pack) arrives as one event carrying them
   * all as columns (docs/streams.md): chart every sample, not only the newest. */
  #chartSamples(path, entry, event) {
    const chart = this.charts.get(path);
    if (!chart) return;
    const samples = event?.samples;
    const prefix = event?.component ? `${event.component}.` : "";
    const column = samples && path.startsWith(prefix) ? samples.telemetry?.[path.slice(prefix.length)] : null;
    if (!column) {
      chart.append(entry.time, entry.value);
      return;
    }
    chart.appendMany(samples.sourceTime.map((time, i) => [time, column[i]]));
  }

  /** The platform's alarms of `twinId` changed (the alarms board says so). */
  onAlarms(twinId) {
    if (twinId === this.twinId && this.table) this.#renderStatus();
  }

  #renderStatus() {
    const active = this.alarms?.activeFor(this.twinId) ?? [];
    this.alarmList.replaceChildren(...active.map((a) =>
      el("li", { "data-alarm": a.id, "data-state": a.state },
        el("span", { class: `sev sev-${a.severity}` }, a.severity), ` ${a.message} `,
        el("span", { class: "muted small" }, a.state))));
    const look = machineLook(this.graph, this.state, this.twinId, active);
    const status = this.state.get(this.twinId, "state");
    this.badge.textContent = status ?? "";
    this.badge.className = `badge state-${status ?? "none"}`;
    this.alarm.hidden = !look.alarm;
    this.alarm.textContent = look.alarm ? `Alarm: ${look.reasons.join(", ")}` : "";
  }

  #renderValues() {
    const fields = new Map(this.graph.catalog.fields(this.graph.modelOf(this.twinId)).map((f) => [f.path, f]));
    const entries = [...this.state.all(this.twinId).entries()].sort(([a], [b]) => {
      const ka = fields.get(a)?.kind === "telemetry" ? 0 : 1;
      const kb = fields.get(b)?.kind === "telemetry" ? 0 : 1;
      return ka - kb || a.localeCompare(b);
    });
    this.cells.clear();
    const rows = entries.map(([path, entry]) => {
      const field = fields.get(path);
      const cell = el("td", { "data-path": path }, this.#format(path, entry.value));
      this.cells.set(path, cell);
      return el("tr", { title: entry.time ? `updated ${new Date(entry.time).toLocaleString()}` : "" },
        el("th", {}, field?.label ?? path, field?.kind === "telemetry" ? el("span", { class: "kind" }, " live") : ""),
        cell);
    });
    this.table.replaceChildren(...rows);
    this.#renderStatus();
  }

  #format(path, value) {
    const field = this.graph.catalog.fields(this.graph.modelOf(this.twinId)).find((f) => f.path === path);
    return formatValue(value, unitSymbol(field?.unit));
  }

  #relationships(twinId) {
    const item = (rel, outgoing) => {
      const other = outgoing ? rel.$targetId : rel.$sourceId;
      const extra = Object.entries(rel).filter(([k]) => !k.startsWith("$")).map(([k, v]) => `${k} ${v}`).join(", ");
      return el("li", {},
        outgoing ? `${rel.$relationshipName} → ` : "",
        el("button", { class: "link", "data-twin": other, onclick: () => this.onFollow(other) }, other),
        outgoing ? "" : ` → ${rel.$relationshipName}`,
        extra ? el("span", { class: "muted" }, ` (${extra})`) : "");
    };
    const out = this.graph.outgoing(twinId).map((r) => item(r, true));
    const inc = this.graph.incoming(twinId).map((r) => item(r, false));
    if (!out.length && !inc.length) return el("p", { class: "muted" }, "none");
    return el("ul", { class: "relationships" }, ...out, ...inc);
  }

  #rangeButtons() {
    const box = el("div", { class: "ranges", role: "group", "aria-label": "time range" });
    for (const [label, minutes] of RANGES) {
      const button = el("button", { "aria-pressed": String(minutes === this.rangeMinutes) }, label);
      button.addEventListener("click", () => {
        this.rangeMinutes = minutes;
        box.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
        this.#loadCharts();
      });
      box.append(button);
    }
    box.append(el("span", { class: "muted small" }, " drag on a chart to zoom, double-click to zoom out"));
    return box;
  }

  async #loadCharts() {
    const token = ++this.loadToken;
    const twinId = this.twinId;
    const fields = this.graph.catalog.fields(this.graph.modelOf(twinId)).filter((f) => f.numeric);
    let counts;
    let lasts;
    try {
      const recorded = await seriesOf(twinId);
      counts = new Map(recorded.map((s) => [s.name, s.count]));
      lasts = new Map(recorded.map((s) => [s.name, Date.parse(s.last)]));
    } catch (err) {
      this.chartBox.replaceChildren(el("p", { class: "error" }, `history unavailable: ${err.message}`));
      return;
    }
    // every telemetry (a chart fills live even before anything is recorded), and the
    // properties that changed at least once (most hold one set value: no line to draw);
    // a value's companions (its estimate's std, a prediction's interval ends) get no chart
    // of their own, so the sensors keep their places
    const paths = new Set(fields.map((f) => f.path));
    const wanted = fields
      .filter((f) => !isCompanion(f.path, paths))
      .filter((f) => f.kind === "telemetry" || (counts.get(f.path) ?? 0) > 1)
      .sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "telemetry" ? -1 : 1))
      .slice(0, MAX_CHARTS);
    // a series' range ends at its newest reading when that is ahead of the wall clock: a
    // world run faster than real time (`twinsight demo --speed 60`) stamps them ahead
    const span = this.rangeMinutes * 60000;
    const startOf = (path) => {
      const last = lasts.get(path);
      return new Date(Math.max(Date.now(), Number.isFinite(last) ? last : 0) - span).toISOString();
    };
    const series = await Promise.all(
      wanted.map((f) => (counts.has(f.path) ? historyRange(twinId, f.path, startOf(f.path)).catch(() => []) : [])),
    );
    if (token !== this.loadToken) return; // another twin or range was chosen meanwhile
    for (const chart of this.charts.values()) chart.destroy();
    this.charts.clear();
    this.chartBox.replaceChildren();
    const look = machineLook(this.graph, this.state, twinId);
    if (!wanted.length) this.chartBox.append(el("p", { class: "muted" }, "nothing numeric to chart"));
    wanted.forEach((field, i) => {
      const unit = unitSymbol(field.unit);
      const limits = field.path === look.limitedPath ? look.limits : [];
      const chart = new HistoryChart(this.chartBox, { title: unit ? `${field.label} (${unit})` : field.label, unit, limits });
      chart.element.dataset.series = field.path;
      chart.setPoints(series[i]);
      // a dashed forecast in its interval band, once the series is long enough
      chart.followForecast(twinId, field.path, counts.get(field.path) ?? 0);
      this.charts.set(field.path, chart);
    });
  }
}
