// The alarms tab: every alarm the platform raised (docs/alarms.md), active first, then by
// severity, newest first; a button acknowledges through the API. Alarms are read once per
// load and then kept live from the stream's alarm.* events, so the 3D scene and the twin
// panel ask this board which twins are in alarm (the server decides, not the page).

import { getJSON, listAll, postJSON } from "./api.js";
import { el } from "./dom.js";

const SEVERITIES = ["critical", "major", "minor", "warning"];
const RECENT_CLEARED = "/alarms?state=cleared";
const rank = (alarm) => (alarm.active ? 0 : 10) + Math.max(0, SEVERITIES.indexOf(alarm.severity));

/** How far an alarm has come: every transition (a repeat, an acknowledgement, clearing)
 *  makes it larger, so a stale event that waited during a load never undoes a newer read. */
const progress = (alarm) => alarm.count * 4 + (alarm.acknowledged ? 1 : 0) + (alarm.cleared ? 2 : 0);

const time = (iso) => (iso ? new Date(iso).toLocaleString() : "");

export class AlarmBoard {
  /** `root` is the tab's body, `counter` the tab's badge; `onSelect(twinId)` selects a
   *  twin, `onChange(twinId)` is told when a twin's alarms change. */
  constructor(root, counter, { onSelect, onChange }) {
    this.root = root;
    this.counter = counter;
    this.onSelect = onSelect;
    this.onChange = onChange;
    this.alarms = new Map();
    this.operator = localStorage.getItem("twinsight-operator") || "operator";
    this.error = null;
    // Built once: re-rendering the list on every event must not steal the typing focus.
    const who = el("input", { id: "alarm-operator", value: this.operator, "aria-label": "acknowledge as", size: 12 });
    who.addEventListener("change", () => {
      this.operator = who.value.trim() || "operator";
      localStorage.setItem("twinsight-operator", this.operator);
    });
    this.list = el("div", { class: "alarm-list" });
    this.root.replaceChildren(el("p", { class: "small" }, el("label", {}, "Acknowledge as ", who)), this.list);
  }

  /** Read the active alarms and the newest cleared ones. */
  async load() {
    const [active, cleared] = await Promise.all([listAll("/alarms?active=true"), getJSON(RECENT_CLEARED)]);
    const before = new Set([...this.alarms.values()].map((a) => a.twinId));
    this.alarms = new Map([...active, ...cleared.value].map((a) => [a.id, a]));
    this.render();
    for (const twinId of new Set([...before, ...[...this.alarms.values()].map((a) => a.twinId)])) this.onChange(twinId);
  }

  /** Apply one stream event; returns whether it was an alarm event. */
  apply(event) {
    if (!event.type.startsWith("alarm.")) return false;
    this.#keep(event.alarm);
    return true;
  }

  #keep(alarm) {
    const held = this.alarms.get(alarm.id);
    if (held && progress(held) > progress(alarm)) return;
    this.alarms.set(alarm.id, alarm);
    this.render();
    this.onChange(alarm.twinId);
  }

  /** The twin's active alarms, most urgent first. */
  activeFor(twinId) {
    return [...this.alarms.values()].filter((a) => a.active && a.twinId === twinId).sort((a, b) => rank(a) - rank(b));
  }

  async acknowledge(alarm, button) {
    button.disabled = true;
    try {
      this.#keep(await postJSON(`/alarms/${encodeURIComponent(alarm.id)}/acknowledge`, { by: this.operator }));
      this.error = null;
    } catch (err) {
      this.error = `${alarm.twinId}: ${err.message}`;
      button.disabled = false;
    }
    this.render();
  }

  render() {
    const alarms = [...this.alarms.values()].sort(
      (a, b) => rank(a) - rank(b) || Date.parse(b.raised) - Date.parse(a.raised),
    );
    const active = alarms.filter((a) => a.active).length;
    this.counter.textContent = active ? String(active) : "";
    const items = alarms.map((alarm) => {
      const ack = alarm.acknowledged
        ? el("span", { class: "muted small" }, `acknowledged by ${alarm.acknowledgedBy}`)
        : el("button", { class: "ack", onclick: (e) => this.acknowledge(alarm, e.currentTarget) }, "Acknowledge");
      const state = alarm.state === "cleared" && !alarm.acknowledged ? "cleared, unacknowledged" : alarm.state;
      return el("li", { "data-alarm": alarm.id, "data-twin": alarm.twinId, "data-state": alarm.state, class: alarm.active ? "active" : "inactive" },
        el("div", { class: "alarm-head" },
          el("span", { class: `sev sev-${alarm.severity}` }, alarm.severity), " ",
          el("button", { class: "link", onclick: () => this.onSelect(alarm.twinId) }, alarm.twinId), " ",
          el("span", { class: "state" }, state)),
        el("div", { class: "message", title: alarm.source }, alarm.message, alarm.count > 1 ? el("span", { class: "muted" }, ` ×${alarm.count}`) : ""),
        el("div", { class: "times small muted" },
          `raised ${time(alarm.raised)}`,
          alarm.acknowledged ? ` · acknowledged ${time(alarm.acknowledged)}` : "",
          alarm.cleared ? ` · cleared ${time(alarm.cleared)}` : ""),
        ack);
    });
    this.list.replaceChildren(
      this.error ? el("p", { class: "error" }, this.error) : "",
      items.length ? el("ul", { class: "alarms" }, ...items) : el("p", { class: "muted" }, "No alarms."),
    );
  }
}
