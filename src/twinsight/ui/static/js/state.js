// The live state of every twin: its properties (from the twin documents) and its latest
// telemetry (from history at start, then from the stream). One place applies stream events,
// and tells its listeners which twin and which fields changed.

import { latestValues } from "./api.js";

/** A twin document's properties by path: components flattened (`bearing.wear`). */
function flatten(doc) {
  const out = new Map();
  const meta = doc.$metadata ?? {};
  for (const [key, value] of Object.entries(doc)) {
    if (key.startsWith("$")) continue;
    if (value && typeof value === "object" && "$metadata" in value) {
      for (const [inner, v] of Object.entries(value)) {
        if (inner.startsWith("$")) continue;
        out.set(`${key}.${inner}`, { value: v, time: value.$metadata?.[inner]?.lastUpdateTime ?? null });
      }
    } else {
      out.set(key, { value, time: meta[key]?.lastUpdateTime ?? null });
    }
  }
  return out;
}

export class LiveState {
  constructor() {
    this.values = new Map();
    this.listeners = new Set();
  }

  onChange(listener) {
    this.listeners.add(listener);
  }

  get(twinId, path) {
    return this.values.get(twinId)?.get(path)?.value;
  }

  all(twinId) {
    return this.values.get(twinId) ?? new Map();
  }

  /** Start from the twin documents (their properties). */
  reset(graph) {
    this.values = new Map();
    for (const [id, doc] of graph.twins) this.values.set(id, flatten(doc));
  }

  /** Add the newest recorded telemetry of every twin, and tell the listeners. */
  async loadLatest(graph) {
    const series = [];
    for (const id of graph.twins.keys()) {
      for (const field of graph.catalog.fields(graph.modelOf(id))) {
        if (field.kind === "telemetry") series.push(`${id}/${field.path}`);
      }
    }
    for (const point of await latestValues(series)) {
      const cut = point.series.indexOf("/");
      this.#set(point.series.slice(0, cut), point.series.slice(cut + 1), point.value, point.time);
    }
    for (const id of graph.twins.keys()) this.#emit(id, null);
  }

  /** Apply one stream event (docs/streams.md); returns whether the graph itself changed. */
  apply(event) {
    const id = event.twinId;
    if (event.type === "telemetry") {
      const prefix = event.component ? `${event.component}.` : "";
      const changed = [];
      for (const [name, value] of Object.entries(event.telemetry ?? {})) {
        this.#set(id, prefix + name, value, event.sourceTime ?? event.time);
        changed.push(prefix + name);
      }
      this.#emit(id, changed, event);
      return false;
    }
    if (event.type === "twin.updated") {
      const changed = [];
      for (const [path, change] of Object.entries(event.changes ?? {})) {
        if (change.removed) this.values.get(id)?.delete(path);
        else this.#set(id, path, change.value, change.sourceTime ?? event.time);
        changed.push(path);
      }
      this.#emit(id, changed, event);
      return false;
    }
    return event.type.startsWith("twin.") || event.type.startsWith("relationship.");
  }

  /** Keep `value` unless the value held is newer: events that waited during a load, or
   *  the latest telemetry read after the stream had delivered newer, must not go back. */
  #set(id, path, value, time) {
    if (!this.values.has(id)) this.values.set(id, new Map());
    const held = this.values.get(id).get(path);
    if (held && Date.parse(held.time) > Date.parse(time)) return;
    this.values.get(id).set(path, { value, time });
  }

  #emit(id, changed, event = null) {
    for (const listener of this.listeners) listener(id, changed, event);
  }
}
