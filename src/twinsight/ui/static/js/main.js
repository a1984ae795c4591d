// The page: loads the twin graph and its state through the public API, draws the plant,
// and keeps everything live from the WebSocket stream. Selection is one function, so the
// 3D view, the explorer, the panel and links between twins all select the same way.

import { TwinGraph } from "./graph.js";
import { LiveState } from "./state.js";
import { LiveStream } from "./stream.js";
import { PlantScene } from "./scene.js";
import { TwinPanel } from "./panel.js";
import { Explorer } from "./explorer.js";
import { WhatIfPanel } from "./whatif.js";
import { AlarmBoard } from "./alarms.js";
import { ActionBoard } from "./actions.js";

const $ = (id) => document.getElementById(id);
performance.mark("twinsight:start");
const state = new LiveState();
let graph = null;
let selected = null;
let loading = false; // a load is reading the platform: stream events wait in `arrived`
const arrived = [];
const MAX_WAITING_EVENTS = 20000;

function select(twinId) {
  selected = twinId;
  scene.select(twinId);
  explorer.select(twinId);
  panel.show(graph, state, twinId);
  showTab("twin-panel");
  history.replaceState(null, "", `#${encodeURIComponent(twinId)}`);
}

const scene = new PlantScene($("scene"), $("labels"), { onSelect: select });
performance.mark("twinsight:view-ready");
const panel = new TwinPanel($("twin-panel"), { onFollow: select });
const explorer = new Explorer(
  { search: $("explorer-search"), model: $("explorer-model"), list: $("explorer-list"), count: $("explorer-count") },
  { onSelect: select },
);
const whatIf = new WhatIfPanel($("whatif-panel"));
// The platform's alarms: the scene blinks and the panel lists what the server raised.
const alarms = new AlarmBoard($("alarms-panel"), $("alarm-count"), {
  onSelect: select,
  onChange: (twinId) => {
    if (!graph) return;
    scene.update(twinId);
    panel.onAlarms(twinId);
  },
});
scene.alarms = alarms;
panel.alarms = alarms;
// Commands and set-points waiting for a person, and what was applied (docs/control.md).
const actions = new ActionBoard($("actions-panel"), $("action-count"), { onSelect: select });

function showTab(id) {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const active = tab.dataset.tab === id;
    tab.setAttribute("aria-selected", String(active));
    $(tab.dataset.tab).hidden = !active;
  }
}
for (const tab of document.querySelectorAll("[role=tab]")) tab.addEventListener("click", () => showTab(tab.dataset.tab));

function banner(text) {
  $("banner").hidden = !text;
  $("banner").textContent = text ?? "";
}

state.onChange((twinId, changed, event) => {
  scene.update(twinId);
  explorer.update(twinId);
  panel.onState(twinId, changed, event);
});

/** (Re)read the graph and its state, and redraw what depends on them. Stream events that
 *  arrive meanwhile are applied after it, so a change made while the page reads is kept:
 *  the state keeps, per value, the newest by time (state.js). */
async function load(reading = TwinGraph.load()) {
  loading = true;
  try {
    graph = await reading;
    performance.mark("twinsight:graph-loaded");
    state.reset(graph);
    const site = graph.layout().site;
    $("site-name").textContent = site ? (graph.twins.get(site)?.name ?? site) : "";
    scene.build(graph, state);
    performance.mark("twinsight:scene-built");
    explorer.setGraph(graph, state);
    whatIf.setGraph(graph);
    if (selected) select(selected);
    await Promise.all([state.loadLatest(graph), alarms.load(), actions.load()]);
  } finally {
    loading = false;
    for (const event of arrived.splice(0)) onEvent(event);
  }
}

function onEvent(event) {
  if (loading || !graph) {
    if (arrived.length < MAX_WAITING_EVENTS) arrived.push(event);
    else reloadSoon(); // too many to keep: read everything again afterwards
    return;
  }
  if (alarms.apply(event)) return;
  if (actions.apply(event)) return;
  if (state.apply(event)) reloadSoon(); // twins or relationships came or went
}

let reloadTimer = null;
function reloadSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => load().catch(showLoadError), 500);
}

function showLoadError(err) {
  banner(`The platform could not be read: ${err.message}. Retrying in 5 s…`);
  setTimeout(() => load().then(() => banner(null)).catch(showLoadError), 5000);
}

const stream = new LiveStream({
  onEvent,
  onStatus: (status, detail) => {
    const badge = $("live-status");
    badge.className = `status status-${status}`;
    badge.textContent = { connecting: "connecting…", live: "live", down: "offline" }[status];
    // while it reconnects, the banner keeps saying what happened, until live again
    if (status === "down") banner(detail);
    else if (status === "live") banner(null);
  },
  onReconnect: reloadSoon,
});

// Subscribe first, then read: a change is then either in what the page reads or in the
// stream. The WebSocket's round trip runs while the 3D view sets up its WebGL context; if the
// stream is not live within 1.5 s the page reads anyway and reads again once it is.
stream.start();
load(stream.whenLive(1500).then(() => TwinGraph.load()))
  .then(() => {
    const wanted = decodeURIComponent(location.hash.slice(1));
    if (wanted && graph.twins.has(wanted)) select(wanted);
  })
  .catch(showLoadError);

/** A read-only handle for automation (the browser tests and the load benchmark). */
window.twinsight = {
  screenPoint: (twinId) => scene.screenPoint(twinId),
  look: (twinId) => scene.lookOf(twinId),
  view: () => scene.view(),
  selected: () => selected,
};
