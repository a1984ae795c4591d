// How a machine looks from its live state: its temperature (as a heat colour), whether it
// runs (turns) and whether it is in alarm (blinks). Kept apart from the 3D code so the
// rules read in one place.

import * as THREE from "three";

export const HEAT_MIN = 20;
export const HEAT_MAX = 120;
const HOT_ALARM = 110;
const STOPPED = new Set(["stopped", "idle", "maintenance", "fault"]);

/** Blue at HEAT_MIN °C through green and yellow to red at HEAT_MAX °C. */
export function heatColor(celsius) {
  const f = Math.min(1, Math.max(0, (celsius - HEAT_MIN) / (HEAT_MAX - HEAT_MIN)));
  return new THREE.Color().setHSL((1 - f) * 0.66, 0.75, 0.5);
}

const number = (value) => (typeof value === "number" && Number.isFinite(value) ? value : null);

/** {temperature, running, alarm, fill, summary} of one twin. Alarms: a `fault` state, a
 *  temperature over 110 °C, or an active alarm the platform raised (`serverAlarms`, from the
 *  alarms board: a value outside the twin's `alarmLimits` is one, raised by the server's
 *  limit monitor). `alarmLimits` {low, high} still scale a tank's fill and mark the chart
 *  of the model's first numeric telemetry (a tank's level). */
export function machineLook(graph, state, twinId, serverAlarms = []) {
  const model = graph.modelOf(twinId);
  const fields = graph.catalog.fields(model);
  const tempField = graph.catalog.temperatureField(model);
  const temperature = tempField ? number(state.get(twinId, tempField.path)) : null;
  const status = state.get(twinId, "state");
  const running = typeof status === "string" ? !STOPPED.has(status) : true;
  const reasons = [];
  if (status === "fault") reasons.push("fault");
  if (temperature !== null && temperature > HOT_ALARM) reasons.push(`${temperature.toFixed(0)} °C`);
  const limits = state.get(twinId, "alarmLimits");
  const measured = fields.find((f) => f.kind === "telemetry" && f.numeric);
  const value = measured ? number(state.get(twinId, measured.path)) : null;
  let fill = null;
  if (limits && value !== null) fill = Math.min(1, value / Math.max(5, (limits.high ?? 0) * 1.25));
  for (const alarm of serverAlarms) reasons.push(alarm.message);
  const summary = `${twinId}: ${status ?? "no state"}${reasons.length ? ` — alarm: ${reasons.join(", ")}` : ""}`;
  const bounds = limits ? [limits.low, limits.high].filter((v) => number(v) !== null) : [];
  return {
    temperature, running, alarm: reasons.length > 0, fill, summary, reasons,
    limitedPath: bounds.length && measured ? measured.path : null, limits: bounds,
  };
}
