// A history chart (uPlot) of one series: filled from the history API, extended live from
// the stream. Drag across it to zoom into a stretch of time, double-click to zoom out again.

import uPlot from "uplot";

const MAX_POINTS = 5000;

export class HistoryChart {
  constructor(container, { title, unit }) {
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
        scales: { x: { time: true } },
        axes: [{ size: 30 }, { size: 52, label: unit || undefined, labelSize: 14 }],
        legend: { show: false },
        series: [{}, { label: title, stroke: "#2f6fd6", width: 1.5, fill: "rgba(47,111,214,0.08)", points: { show: false } }],
        hooks: {
          setSelect: [() => {
            this.zoomed = true;
            this.element.dataset.zoomed = "true";
          }],
        },
      },
      [[], []],
      this.element,
    );
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
    this.#redraw();
  }

  get pointCount() {
    return this.times.length;
  }

  destroy() {
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
    this.plot.setData([this.times, this.values], !this.zoomed);
    this.element.dataset.points = String(this.times.length);
    this.element.classList.toggle("empty", this.times.length === 0);
  }
}
