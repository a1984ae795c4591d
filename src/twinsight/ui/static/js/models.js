// The DTDL models, as the page needs them: inheritance (so a filter on Machine finds motors
// and pumps), the fields a twin of a model can have (with units and display names, for the
// panel and its charts), and which 3D shape stands for a model.

const NUMERIC = new Set(["double", "float", "integer", "long"]);

/** The shapes the 3D scene can draw; a model gets the first one its name or an ancestor's
 *  name matches (dtmi:…:Motor;1 → "motor"), anything else a plain box. */
export const SHAPES = ["motor", "pump", "conveyor", "tank"];

const asList = (value) => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const text = (value) => (value && typeof value === "object" ? value.en ?? Object.values(value)[0] : value);

/** "dtmi:twinsight:factory:Motor;1" → "Motor". */
export const localName = (dtmi) => dtmi.replace(/;\d+$/, "").split(":").pop();

export class ModelCatalog {
  constructor(entries) {
    this.defs = new Map();
    for (const entry of entries) {
      const def = entry.model || {};
      this.defs.set(entry.id, {
        id: entry.id,
        displayName: text(def.displayName) || text(entry.displayName) || localName(entry.id),
        extends: asList(def.extends).map((e) => (typeof e === "string" ? e : e["@id"])),
        contents: asList(def.contents),
      });
    }
    this.fieldCache = new Map();
  }

  /** `id` and every model it extends, nearest first. */
  ancestors(id) {
    const seen = [];
    const queue = [id];
    while (queue.length) {
      const next = queue.shift();
      if (!next || seen.includes(next)) continue;
      seen.push(next);
      queue.push(...(this.defs.get(next)?.extends ?? []));
    }
    return seen;
  }

  isA(id, base) {
    return this.ancestors(id).includes(base);
  }

  label(id) {
    return this.defs.get(id)?.displayName ?? localName(id ?? "unknown");
  }

  shape(id) {
    for (const model of this.ancestors(id)) {
      const name = localName(model).toLowerCase();
      if (SHAPES.includes(name)) return name;
    }
    return null;
  }

  /** Every property and telemetry a twin of `id` can have, components flattened
   *  (`bearing.wear`), as {path, kind, numeric, unit, label, semantic, writable}. */
  fields(id) {
    if (this.fieldCache.has(id)) return this.fieldCache.get(id);
    const fields = [];
    const seen = new Set();
    const add = (content, prefix) => {
      const types = asList(content["@type"]);
      const path = prefix + content.name;
      if (seen.has(path)) return;
      if (types.includes("Component")) {
        const schema = typeof content.schema === "string" ? content.schema : null;
        for (const inner of schema ? this.contentsOf(schema) : []) add(inner, `${path}.`);
        return;
      }
      const kind = types.includes("Telemetry") ? "telemetry" : types.includes("Property") ? "property" : null;
      if (!kind) return;
      seen.add(path);
      fields.push({
        path,
        kind,
        numeric: typeof content.schema === "string" && NUMERIC.has(content.schema),
        unit: content.unit || "",
        label: prefix.replaceAll(".", " ") + (text(content.displayName) || content.name),
        semantic: types.find((t) => t !== "Telemetry" && t !== "Property") || "",
        writable: Boolean(content.writable),
      });
    };
    for (const content of this.contentsOf(id)) add(content, "");
    this.fieldCache.set(id, fields);
    return fields;
  }

  /** Own and inherited contents of a model, own first. */
  contentsOf(id) {
    return this.ancestors(id).flatMap((model) => this.defs.get(model)?.contents ?? []);
  }

  /** The model's numeric temperature field, if it has one (colours the 3D shape). */
  temperatureField(id) {
    return this.fields(id).find((f) => f.numeric && (f.semantic === "Temperature" || f.unit === "degreeCelsius"));
  }
}

const UNITS = {
  degreeCelsius: "°C", revolutionPerMinute: "rpm", ampere: "A", kilowatt: "kW",
  centimetrePerSecond: "cm/s", metrePerSecond: "m/s", cubicMetrePerHour: "m³/h",
  kilopascal: "kPa", metre: "m", cubicMetre: "m³", hour: "h",
};

/** A DTDL unit name as people write it. */
export const unitSymbol = (unit) => UNITS[unit] ?? unit ?? "";
