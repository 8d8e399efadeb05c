// The one way the dashboard talks to trainyard: the JSON API, with the signed-in token.
const TOKEN_KEY = "trainyard.token";
const PROJECT_KEY = "trainyard.project";

export const token = () => sessionStorage.getItem(TOKEN_KEY) || "";
export const setToken = (value) => value ? sessionStorage.setItem(TOKEN_KEY, value) : sessionStorage.removeItem(TOKEN_KEY);
export const project = () => sessionStorage.getItem(PROJECT_KEY) || "";
export const setProject = (value) => value ? sessionStorage.setItem(PROJECT_KEY, value) : sessionStorage.removeItem(PROJECT_KEY);

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.msg) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.errors = this.body.errors || [];
  }
}

export function authHeaders(extra = {}) {
  const t = token();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}

function toSignIn() {
  const here = location.pathname + location.search;
  if (!location.pathname.startsWith("/ui/signin")) location.assign(`/ui/signin?next=${encodeURIComponent(here)}`);
}

// fetch with the token; JSON in and out. Options: method, json, body, headers, raw (return the Response).
export async function api(path, { method = "GET", json, body, headers = {}, raw = false, signal, noRedirect = false } = {}) {
  const init = { method, headers: authHeaders(headers), cache: "no-store", signal };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
  }
  const res = await fetch(path, init);
  if (res.status === 401 && !noRedirect) toSignIn();
  if (raw) return res;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { msg: text.slice(0, 200) }; }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// A query string from an object, skipping empty values.
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : "";
}

// Download an authenticated resource (a link cannot carry the Authorization header).
export async function download(path, fallbackName) {
  const res = await api(path, { raw: true });
  if (!res.ok) {
    let msg = `HTTP ${res.status}`;
    try { msg = (await res.json()).msg || msg; } catch { /* not JSON */ }
    throw new ApiError(res.status, { msg });
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "")?.[1] || fallbackName;
  saveBlob(await res.blob(), name);
}

export function saveBlob(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}
