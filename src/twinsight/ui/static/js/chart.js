// A history chart (uPlot) of one series: filled from the history API, extended live from
// the stream. Drag across it to zoom into a stretch of time, double-click to zoom out again.
// Alarm limits, when the series has some, are drawn as dashed red lines and kept in view.

import uPlot from "uplot";

const MAX_POINTS = 5000;

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
        series: [{}, { label: title, stroke: "#2f6fd6", width: 1.5, fill: "rgba(47,111,214,0.08)", points: { show: false } }],
        hooks: {
          draw: [(u) => drawLimits(u, limits)],
          setSelect: [() => {
            this.zoomed = true;
            this.element.dataset.zoomed = "true";
          }],
        },
      },
      [[], []],
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
    this.#push(time, value);
    if (this.dragging) this.pending = true;
    else this.#redraw();
  }

  /** Many new points at once ([time, value] pairs, nulls skipped), drawn once. */
  appendMany(points) {
    for (const [time, value] of points) this.#push(time, value);
    if (this.dragging) this.pending = true;
    else this.#redraw();
  }

  get pointCount() {
    return this.times.length;
  }

  destroy() {
    window.removeEventListener("mouseup", this.onMouseUp);
    this.plot.destroy();
    this.element.remove();
  }

  #push(time, value) {
    const v = typeof value === "number" ? value : typeof value === "boolean" ? Number(value) : null;
    if (v === null || !time) return;
    this.times.push(Date.parse(time) / 1000);
    this.values.push(v);
    if (this.times.length > MAX_POINTS) {
      this.times.shift();
      this.values.shift();
    }
  }

  #redraw() {
    this.pending = false;
    this.plot.setData([this.times, this.values], !this.zoomed);
    this.element.dataset.points = String(this.times.length);
    this.element.classList.toggle("empty", this.times.length === 0);
  }
}
