// A twin's remaining useful life in its panel: the prediction, its 10–90 % interval and
// the registered model version that produced it (docs/rul.md). Filled from
// GET /twins/{id}/derived when the panel opens, then from the stream's telemetry events,
// whose `producedBy` names the model version (docs/streams.md).

import { getJSON } from "./api.js";
import { el } from "./dom.js";

const NAMES = ["remainingUsefulLife", "remainingUsefulLifeLow", "remainingUsefulLifeHigh"];
const hours = (h) => `${Math.round(h).toLocaleString("en")} h`;

export class RulLine {
  constructor(twinId) {
    this.twinId = twinId;
    this.values = {};
    this.element = el("p", { class: "rul", hidden: true, "data-rul": twinId });
    this.#load();
  }

  async #load() {
    let derived;
    try {
      derived = (await getJSON(`/twins/${encodeURIComponent(this.twinId)}/derived`)).value;
    } catch {
      return; // nothing derived to show; the stream may still bring it
    }
    const rul = derived.filter((d) => NAMES.includes(d.name));
    if (!rul.length || this.producer) return; // the stream was faster
    for (const d of rul) this.values[d.name] = d.value;
    this.#render({ model: rul[0].model, version: rul[0].version });
  }

  /** A stream event of this twin: show a RUL it carries. */
  onEvent(event) {
    const telemetry = event?.type === "telemetry" ? event.telemetry : null;
    if (!telemetry || telemetry.remainingUsefulLife === undefined || !event.producedBy) return;
    for (const name of NAMES) if (telemetry[name] !== undefined) this.values[name] = telemetry[name];
    this.#render(event.producedBy);
  }

  #render(producer) {
    this.producer = producer;
    const v = this.values;
    this.element.hidden = false;
    this.element.replaceChildren(
      el("strong", {}, "Remaining useful life "),
      el("span", { class: "rul-value" }, hours(v.remainingUsefulLife)),
      el("span", { class: "muted" }, ` (${hours(v.remainingUsefulLifeLow)} – ${hours(v.remainingUsefulLifeHigh)}, 10–90 %)`),
      el("span", { class: "rul-model muted small" }, ` · model ${producer.model} v${producer.version}`),
    );
  }
}
