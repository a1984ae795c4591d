// A history chart (uPlot) of one series: filled from the history API, extended live from
// the stream. Drag across it to zoom into a stretch of time, double-click to zoom out again.
// Alarm limits, when the series has some, are drawn as dashed red lines and kept in view.
// A forecast (GET /history/{twin}/{name}/forecast, docs/forecasts.md) continues the line as
// a dashed one inside a shaded prediction-interval band, and is fetched again now and then.

import uPlot from "uplot";
import { getJSON } from "./api.js";

const MAX_POINTS = 5000;
const FORECAST_HORIZON = 60; // steps ahead: five minutes of the demo's 5 s readings
const FORECAST_LEVEL = 0.8;
const FORECAST_EVERY_MS = 30000;
// Readings a series needs before its forecast is asked for: the default forecaster's
// minimum (analytics/forecast). With fewer the server refuses (404 with none, 422 with too
// few), and the browser logs every refused request as a console error.
const FORECAST_MIN_READINGS = 16;
const BAND_FILL = "rgba(230,140,30,0.22)";
const FORECAST_STROKE = "#d97a10";

/** The forecast of a series: {value: [{time, value, lower, upper}], model, version, level}. */
export function fetchForecast(twinId, path, { horizon = FORECAST_HORIZON, level = FORECAST_LEVEL } = {}) {
  const query = new URLSearchParams({ horizon: String(horizon), level: String(level) });
  return getJSON(`/history/${encodeURIComponent(twinId)}/${encodeURIComponent(path)}/forecast?${query}`);
}

/** The y range: the data's and the limits', with a little room around. */
function withLimits(min, max, limits) {
  const values = [min, max, ...limits].filter((v) => typeof v === "number" && Number.isFinite(v));
  if (!values.length) return [0, 1];
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.1 || 1;
  return [lo - pad, hi + pad];
}

function drawLimits(u, limits) {
  const { ctx, bbox } = u;
  ctx.save();
  ctx.strokeStyle = "#d1372a";
  ctx.setLineDash([6, 4]);
  ctx.lineWidth = 1.5;
  for (const limit of limits) {
    const y = Math.round(u.valToPos(limit, "y", true));
    ctx.beginPath();
    ctx.moveTo(bbox.left, y);
    ctx.lineTo(bbox.left + bbox.width, y);
    ctx.stroke();
  }
  ctx.restore();
}

export class HistoryChart {
  constructor(container, { title, unit, limits = [] }) {
    this.times = [];
    this.values = [];
    this.forecast = null; // {times, value, lower, upper} in seconds, or null
    this.recorded = 0; // the series' readings, in history and live (followForecast)
    this.zoomed = false;
    this.element = document.createElement("figure");
    this.element.className = "chart";
    container.append(this.element);
    const width = Math.max(240, container.clientWidth - 8);
    this.plot = new uPlot(
      {
        title,
        width,
        height: 150,
        cursor: { drag: { x: true, y: false, setScale: true } },
        scales: { x: { time: true }, y: { range: (u, min, max) => withLimits(min, max, limits) } },
        axes: [{ size: 30 }, { size: 52, space: 24, label: unit || undefined, labelSize: 14 }],
        legend: { show: false },
        series: [
          {},
          { label: title, stroke: "#2f6fd6", width: 1.5, fill: "rgba(47,111,214,0.08)", points: { show: false } },
          { label: "forecast", stroke: FORECAST_STROKE, width: 1.5, dash: [5, 4], spanGaps: true, points: { show: false } },
          { label: "lower", stroke: "rgba(0,0,0,0)", width: 0, points: { show: false } },
          { label: "upper", stroke: "rgba(0,0,0,0)", width: 0, points: { show: false } },
        ],
        bands: [{ series: [4, 3], fill: BAND_FILL }],
        hooks: {
          draw: [(u) => drawLimits(u, limits)],
          setSelect: [() => {
            this.zoomed = true;
            this.element.dataset.zoomed = "true";
          }],
        },
      },
      [[], [], [], [], []],
      this.element,
    );
    // while a drag is under way, new points wait: redrawing then would cancel the drag
    this.plot.over.addEventListener("mousedown", () => {
      this.dragging = true;
    });
    this.onMouseUp = () => {
      if (!this.dragging) return;
      this.dragging = false;
      if (this.pending) this.#redraw();
    };
    window.addEventListener("mouseup", this.onMouseUp);
    this.plot.over.addEventListener("dblclick", () => {
      this.zoomed = false;
      delete this.element.dataset.zoomed;
      this.#redraw();
    });
  }

  /** Replace the points ({time: ISO, value}) with those of a new range. */
  setPoints(points) {
    this.times = [];
    this.values = [];
    for (const p of points) this.#push(p.time, p.value);
    this.zoomed = false;
    delete this.element.dataset.zoomed;
    this.#redraw();
  }

  /** One new point from the stream; the view stays where it is while zoomed. */
  append(time, value) {
    if (this.#push(time, value)) this.recorded += 1;
    if (this.dragging) this.pending = true;
    else this.#redraw();
  }

  /** Many new points at once ([time, value] pairs, nulls skipped), drawn once. */
  appendMany(points) {
    for (const [time, value] of points) if (this.#push(time, value)) this.recorded += 1;
    if (this.dragging) this.pending = true;
    else this.#redraw();
  }

  get pointCount() {
    return this.times.length;
  }

  /** Draw a forecast ({value: [{time, value, lower, upper}], model, version}) after the
   * line; null removes it. */
  setForecast(answer) {
    const points = answer?.value ?? [];
    if (!points.length) {
      this.forecast = null;
      delete this.element.dataset.forecast;
      delete this.element.dataset.forecastModel;
    } else {
      this.forecast = {
        times: points.map((p) => Date.parse(p.time) / 1000),
        value: points.map((p) => p.value),
        lower: points.map((p) => p.lower),
        upper: points.map((p) => p.upper),
      };
      this.element.dataset.forecast = String(points.length);
      this.element.dataset.forecastModel = `${answer.model} v${answer.version}`;
      this.element.title = `forecast: ${answer.model} version ${answer.version}, ` +
        `${Math.round(answer.level * 100)} % interval`;
    }
    if (this.dragging) this.pending = true;
    else this.#redraw();
  }

  /** Fetch the series' forecast now and every FORECAST_EVERY_MS while the chart lives, once
   * the series has FORECAST_MIN_READINGS (`recorded`: readings in history when the chart was
   * drawn; live ones are counted on). One the server still finds too short (422) is asked
   * again when its readings have doubled; until then the chart shows no forecast. */
  followForecast(twinId, path, recorded = 0) {
    this.recorded = recorded;
    let askFrom = FORECAST_MIN_READINGS;
    const refresh = async () => {
      if (this.recorded < askFrom) return;
      try {
        this.setForecast(await fetchForecast(twinId, path));
        delete this.element.dataset.forecastError;
      } catch (err) {
        if (this.destroyed) return;
        this.element.dataset.forecastError = err.code ?? "error";
        if (err.status === 422) askFrom = 2 * this.recorded;
        this.setForecast(null);
      }
    };
    refresh();
    this.forecastTimer = setInterval(refresh, FORECAST_EVERY_MS);
  }

  destroy() {
    this.destroyed = true;
    clearInterval(this.forecastTimer);
    window.removeEventListener("mouseup", this.onMouseUp);
    this.plot.destroy();
    this.element.remove();
  }

  /** Keep one point; false when it is not a number or has no time. */
  #push(time, value) {
    const v = typeof value === "number" ? value : typeof value === "boolean" ? Number(value) : null;
    if (v === null || !time) return false;
    this.times.push(Date.parse(time) / 1000);
    this.values.push(v);
    if (this.times.length > MAX_POINTS) {
      this.times.shift();
      this.values.shift();
    }
    return true;
  }

  /** The five columns uPlot draws: one time axis shared by the line and the forecast (the
   * forecast's line starts at the last reading so the two join; the band starts with the
   * forecast). Live readings may overtake an older forecast's first steps: times are
   * merged in order. */
  #columns() {
    const f = this.forecast;
    const n = this.times.length;
    if (!f) return [this.times, this.values, this.times.map(() => null), this.times.map(() => null), this.times.map(() => null)];
    const rows = [];
    for (let i = 0; i < n; i++) rows.push([this.times[i], this.values[i], null, null, null]);
    if (n) rows[n - 1][2] = this.values[n - 1];
    for (let i = 0; i < f.times.length; i++) rows.push([f.times[i], null, f.value[i], f.lower[i], f.upper[i]]);
    rows.sort((a, b) => a[0] - b[0]);
    return [0, 1, 2, 3, 4].map((c) => rows.map((r) => r[c]));
  }

  #redraw() {
    this.pending = false;
    this.plot.setData(this.#columns(), !this.zoomed);
    this.element.dataset.points = String(this.times.length);
    this.element.classList.toggle("empty", this.times.length === 0);
  }
}
