// The platform's public HTTP API, as the page uses it. Every call goes through `request`,
// so an error always arrives as an ApiError carrying the server's code and message
// ({"error": {"code", "message", "details"}}), which the page shows as it is.

export class ApiError extends Error {
  constructor(status, code, message, details = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

async function request(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "NetworkError", `the platform cannot be reached (${err.message})`);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(
      response.status,
      error.code || `HTTP${response.status}`,
      error.message || `${method} ${path} answered ${response.status}`,
      error.details || [],
    );
  }
  return data;
}

export const getJSON = (path) => request("GET", path);
export const postJSON = (path, body) => request("POST", path, body);
export const deleteJSON = (path) => request("DELETE", path);

/** Every item of an ADT-style paged list ({"value": [...], "nextLink": url}). */
export async function listAll(path) {
  const items = [];
  let next = path;
  while (next) {
    const page = await getJSON(next);
    items.push(...page.value);
    const url = page.nextLink ? new URL(page.nextLink, location.href) : null;
    next = url ? url.pathname + url.search : null;
  }
  return items;
}

/** Every row of an ADT query, following continuation tokens. */
export async function queryAll(query) {
  const rows = [];
  let token = null;
  do {
    const page = await postJSON("/query", token ? { query, continuationToken: token } : { query });
    rows.push(...page.value);
    token = page.continuationToken || null;
  } while (token);
  return rows;
}

/** The newest value of each series ("twin/name"), in chunks that keep URLs short. */
export async function latestValues(series) {
  const points = [];
  for (let i = 0; i < series.length; i += 40) {
    const params = new URLSearchParams();
    for (const s of series.slice(i, i + 40)) params.append("series", s);
    const page = await getJSON(`/history/latest?${params}`);
    points.push(...page.value);
  }
  return points;
}

/** Points of one series between `start` and now (ISO times), oldest first. */
export async function historyRange(twinId, name, start, limit = 5000) {
  const params = new URLSearchParams({ start, limit: String(limit), order: "desc" });
  const page = await getJSON(
    `/history/${encodeURIComponent(twinId)}/${encodeURIComponent(name)}?${params}`,
  );
  return page.value.reverse();
}

export const seriesOf = (twinId) =>
  getJSON(`/history/series?twin=${encodeURIComponent(twinId)}`).then((page) => page.value);
