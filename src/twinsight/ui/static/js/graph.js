// The twin graph as the page sees it: twins, relationships and the plant's layout
// (site → lines through `contains`, lines → machines through `hasMachine` ordered by the
// relationship's `position`, `feeds` between machines), all read through the public API.

import { listAll, queryAll } from "./api.js";
import { ModelCatalog } from "./models.js";

const byNaturalId = (a, b) => a.localeCompare(b, undefined, { numeric: true });

export class TwinGraph {
  constructor(catalog, twins, relationships) {
    this.catalog = catalog;
    this.twins = new Map(twins.map((t) => [t.$dtId, t]));
    this.relationships = relationships;
  }

  /** Read models, twins and relationships from the platform. */
  static async load() {
    const [models, twins, relationships] = await Promise.all([
      listAll("/models?includeModelDefinition=true"),
      queryAll("SELECT * FROM DIGITALTWINS"),
      queryAll("SELECT * FROM RELATIONSHIPS"),
    ]);
    return new TwinGraph(new ModelCatalog(models), twins, relationships);
  }

  modelOf(twinId) {
    return this.twins.get(twinId)?.$metadata?.$model ?? null;
  }

  ids() {
    return [...this.twins.keys()].sort(byNaturalId);
  }

  outgoing(twinId) {
    return this.relationships.filter((r) => r.$sourceId === twinId);
  }

  incoming(twinId) {
    return this.relationships.filter((r) => r.$targetId === twinId);
  }

  named(name) {
    return this.relationships.filter((r) => r.$relationshipName === name && this.twins.has(r.$targetId));
  }

  /** Where things stand: {site, lines: [{id, machines: [ids]}], loose: [ids]}. Lines are the
   *  twins that have machines; a drawable twin on no line is `loose` (drawn on a row of its
   *  own), so a plant of any size or shape shows every machine. */
  layout() {
    const lines = new Map();
    for (const rel of this.named("hasMachine")) {
      if (!lines.has(rel.$sourceId)) lines.set(rel.$sourceId, []);
      lines.get(rel.$sourceId).push(rel);
    }
    const placed = new Set();
    const ordered = [...lines.keys()].sort(byNaturalId).map((id) => {
      const rels = lines.get(id).sort((a, b) => (a.position ?? 0) - (b.position ?? 0) || byNaturalId(a.$targetId, b.$targetId));
      const machines = rels.map((r) => r.$targetId).filter((m) => !placed.has(m));
      machines.forEach((m) => placed.add(m));
      return { id, machines };
    });
    const loose = this.ids().filter((id) => !placed.has(id) && !lines.has(id) && this.catalog.shape(this.modelOf(id)));
    const site = this.named("contains").map((r) => r.$sourceId)[0] ?? null;
    return { site, lines: ordered, loose };
  }
}
