// The actions tab (docs/control.md): what waits for a person — recommendations and actions
// pending approval, each with who or what asked, why, and the guards' predicted effect —
// with Approve / Apply and Reject buttons through the API; below them what was sent to the
// devices and how it ended (done, failed, timed out, refused). Read once per load, then
// kept live from the stream's action.* events.

import { listAll, postJSON } from "./api.js";
import { el } from "./dom.js";

const WAITING = new Set(["pending_approval", "recommended"]);
const SHOWN_DONE = 30;
const time = (iso) => (iso ? new Date(iso).toLocaleString() : "");
const value = (v) => (v === null || v === undefined ? "" : JSON.stringify(v));

/** The guards' prediction as short "name: value" lines. */
function prediction(action) {
  const p = action.prediction;
  if (!p || !Object.keys(p).length) return "";
  return el("div", { class: "prediction small" }, "predicted: ",
    Object.entries(p).map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · "));
}

export class ActionBoard {
  /** `root` is the tab's body, `counter` the tab's badge (actions waiting for a person). */
  constructor(root, counter, { onSelect }) {
    this.root = root;
    this.counter = counter;
    this.onSelect = onSelect;
    this.actions = new Map();
    this.error = null;
    this.operator = localStorage.getItem("twinsight-operator") || "operator";
    const who = el("input", { id: "action-operator", value: this.operator, "aria-label": "decide as", size: 12 });
    who.addEventListener("change", () => {
      this.operator = who.value.trim() || "operator";
      localStorage.setItem("twinsight-operator", this.operator);
    });
    this.waiting = el("div", { class: "action-waiting" });
    this.done = el("div", { class: "action-done" });
    this.root.replaceChildren(
      el("p", { class: "small" }, el("label", {}, "Decide as ", who)),
      el("h3", {}, "Waiting for a decision"), this.waiting,
      el("h3", {}, "Applied and refused"), this.done,
    );
  }

  async load() {
    const items = await listAll("/actions");
    this.actions = new Map(items.map((a) => [a.id, a]));
    this.render();
  }

  /** Apply one stream event; returns whether it was an action event. */
  apply(event) {
    if (!event.type.startsWith("action.")) return false;
    const held = this.actions.get(event.action.id);
    if (!held || Date.parse(held.updated) <= Date.parse(event.action.updated)) {
      this.actions.set(event.action.id, event.action);
      this.render();
    }
    return true;
  }

  async decide(action, verb, button) {
    button.disabled = true;
    try {
      const body = { by: this.operator };
      if (verb === "reject") body.reason = "rejected on the page";
      const updated = await postJSON(`/actions/${encodeURIComponent(action.id)}/${verb}`, body);
      this.actions.set(updated.id, updated);
      this.error = null;
    } catch (err) {
      this.error = `${action.twinId} ${action.name}: ${err.message}`;
      button.disabled = false;
    }
    this.render();
  }

  #entry(action) {
    const waiting = WAITING.has(action.state);
    const buttons = waiting
      ? el("div", { class: "buttons" },
          el("button", { class: "approve", onclick: (e) => this.decide(action, action.state === "recommended" ? "apply" : "approve", e.currentTarget) },
            action.state === "recommended" ? "Apply" : "Approve"), " ",
          el("button", { class: "reject", onclick: (e) => this.decide(action, "reject", e.currentTarget) }, "Reject"))
      : "";
    const outcome = waiting ? "" : el("div", { class: "outcome small" },
      action.error ? `${action.state}: ${action.error}` : action.state,
      action.response !== null && action.response !== undefined ? ` · device: ${value(action.response)}` : "",
      action.decidedBy ? ` · decided by ${action.decidedBy}` : "");
    return el("li", { "data-action": action.id, "data-state": action.state, class: `action-${action.state}` },
      el("div", { class: "action-head" },
        el("button", { class: "link", onclick: () => this.onSelect(action.twinId) }, action.twinId), " ",
        el("span", { class: "what" }, action.kind === "command" ? `${action.name}(${value(action.value)})` : `${action.name} → ${value(action.value)}`),
        el("span", { class: "state" }, action.state.replace("_", " "))),
      el("div", { class: "why small" }, `asked by ${action.requestedBy}`, action.reason ? ` — ${action.reason}` : ""),
      action.verdict ? el("div", { class: "verdict small muted" }, action.verdict) : "",
      prediction(action),
      outcome,
      el("div", { class: "times small muted" }, time(action.created)),
      buttons);
  }

  render() {
    const all = [...this.actions.values()].sort((a, b) => Date.parse(b.created) - Date.parse(a.created));
    const waiting = all.filter((a) => WAITING.has(a.state));
    const rest = all.filter((a) => !WAITING.has(a.state)).slice(0, SHOWN_DONE);
    this.counter.textContent = waiting.length ? String(waiting.length) : "";
    this.waiting.replaceChildren(
      this.error ? el("p", { class: "error" }, this.error) : "",
      waiting.length ? el("ul", { class: "actions" }, ...waiting.map((a) => this.#entry(a))) : el("p", { class: "muted" }, "Nothing waits for a decision."),
    );
    this.done.replaceChildren(
      rest.length ? el("ul", { class: "actions" }, ...rest.map((a) => this.#entry(a))) : el("p", { class: "muted" }, "No actions yet."),
    );
  }
}
