// Small helpers to build the page's elements without an HTML framework.

/** `el("td", {class: "x", onclick: fn}, "text", child)`: an element with attributes,
 *  event handlers (on…) and children (strings become text, falsy ones are skipped). */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else if (value !== false && value !== null && value !== undefined) element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false || child === "") continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** A value as people read it: numbers to 4 significant digits (thousands grouped, no
 * decimals from 10,000 up: a remaining life of 466,212 h, not 466212.1 h), objects as
 * key: value. */
export function formatValue(value, unit = "") {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") {
    const size = Math.abs(value);
    const shown = size >= 1000
      ? value.toLocaleString("en-US", { maximumFractionDigits: size >= 10000 || Number.isInteger(value) ? 0 : 1 })
      : Number.isInteger(value) ? value.toFixed(0) : value.toPrecision(4);
    return unit ? `${shown} ${unit}` : shown;
  }
  if (typeof value === "object") {
    return Object.entries(value).filter(([k]) => !k.startsWith("$")).map(([k, v]) => `${k}: ${formatValue(v)}`).join(", ");
  }
  return String(value);
}
