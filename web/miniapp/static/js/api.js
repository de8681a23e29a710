// The one API client: every call carries "Authorization: tma <initData>", errors become ApiError with a
// Russian sentence, and network failures (and 429/503) are retried with backoff where repeating is safe.

import { launch } from "./telegram.js";
import { errorText } from "./ru.js";
import { sleep } from "./dom.js";

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(errorText(code, status));
    this.status = status;
    this.code = code;
    this.detail = detail || "";
  }
}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
// UPLOADS_BUSY: the server checks many selfies at once and stored nothing; the file is sent again after each
// Retry-After for as long as this in all (a crowd's queue, not a fault), then the error stands.
const BUSY_WAIT_MS = 180_000;
const listeners = new Set();

// Where selfies go: the uploads role's origin when the page names one (UPLOADS_BASE_URL), else our own.
const UPLOADS_ORIGIN = (document.querySelector('meta[name="pinglass-uploads"]') || {}).content || "";

const MAX_REPORTS = 5; // errors one page load reports at most (a loop of errors must not flood the fleet)
let reports = 0;

/** Tell the fleet about a JavaScript error (grouped for the admins; POST /api/v1/client-errors). Best effort and
 * never retried: reporting must not cause errors of its own. */
export function reportError(message, stack = "") {
  if (reports >= MAX_REPORTS || !launch) return;
  reports += 1;
  const body = { message: String(message || "(no message)").slice(0, 2000),
                 where: location.hash.split("?")[0].slice(0, 300) || "#/", stack: String(stack || "").slice(0, 8000) };
  fetch("/api/v1/client-errors", { method: "POST", headers: headers({ "Content-Type": "application/json" }),
                                   body: JSON.stringify(body) }).catch(() => {});
}

/** Called with the error when the session is no longer valid (initData expired or missing). */
export function onSessionLost(fn) { listeners.add(fn); }

function headers(extra = {}) {
  return { Authorization: `tma ${launch ? launch.initData : ""}`, ...extra };
}

async function toError(response) {
  let code = "HTTP_" + response.status;
  let detail = "";
  try {
    const body = await response.json();
    if (body && body.error) { code = body.error.code || code; detail = body.error.message || ""; }
  } catch { /* not JSON: keep the status */ }
  const error = new ApiError(response.status, code, detail);
  if (response.status === 401) listeners.forEach((fn) => fn(error));
  return error;
}

// A 429 that waiting does not cure: the person must act first (pay or let an open checkout lapse).
const FINAL_429 = new Set(["TOO_MANY_CHECKOUTS"]);

async function isFinal429(response) {
  try {
    const body = await response.clone().json();
    return Boolean(body && body.error && FINAL_429.has(body.error.code));
  } catch { return false; }
}

function retryAfterMs(response, attempt) {
  const header = Number(response && response.headers.get("Retry-After"));
  return Number.isFinite(header) && header > 0 ? Math.min(header, 30) * 1000 : BACKOFF_MS[attempt];
}

/**
 * request("GET", "/api/v1/avatars") → the JSON body. A POST is retried only when the server says it did
 * nothing (429, 503) — a lost answer to a POST is not repeated blindly; GET and DELETE also on network errors.
 * A 429 TOO_MANY_CHECKOUTS is not retried: only the person can free a checkout.
 */
export async function request(method, path, { json, retries = BACKOFF_MS.length } = {}) {
  const safe = method === "GET" || method === "DELETE";
  for (let attempt = 0; ; attempt += 1) {
    let response;
    try {
      response = await fetch(path, {
        method, credentials: "omit", cache: "no-store",
        headers: headers(json !== undefined ? { "Content-Type": "application/json" } : {}),
        body: json !== undefined ? JSON.stringify(json) : undefined,
      });
    } catch {
      if (safe && attempt < retries) { await sleep(BACKOFF_MS[attempt]); continue; }
      throw new ApiError(0, "NETWORK");
    }
    if (response.ok) return response.status === 204 ? null : response.json();
    if (response.status === 429 && await isFinal429(response)) throw await toError(response);
    if (RETRYABLE_STATUS.has(response.status) && (safe || response.status !== 502) && attempt < retries) {
      await sleep(retryAfterMs(response, attempt));
      continue;
    }
    throw await toError(response);
  }
}

export const get = (path) => request("GET", path);
export const post = (path, json = {}) => request("POST", path, { json });
export const del = (path) => request("DELETE", path);

/** Upload one file as multipart "files" with progress (0..1) reported to onProgress; resolves to the JSON
 * answer (201 added, 200 duplicate), rejects with ApiError. XMLHttpRequest because fetch has no upload
 * progress. A 429 or 503 means nothing was stored, so the file is sent again after the server's Retry-After, as
 * request() does; UPLOADS_BUSY (every upload turn of the server is taken: a queue of selfies, not a fault) for up
 * to BUSY_WAIT_MS in all, onBusy() told each time so the person sees the file is waiting its turn. */
export async function upload(path, blob, fileName, onProgress, onBusy = () => {}) {
  const started = Date.now();
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await uploadOnce(path, blob, fileName, onProgress);
    } catch (error) {
      const again = error instanceof ApiError && (error.status === 429 || error.status === 503);
      const busy = again && error.code === "UPLOADS_BUSY";
      const wait = error.retryAfterMs || BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
      const within = busy ? Date.now() - started + wait <= BUSY_WAIT_MS : attempt < BACKOFF_MS.length;
      if (!again || !within) throw error;
      onProgress(0);
      if (busy) onBusy();
      await sleep(wait);
    }
  }
}

function uploadOnce(path, blob, fileName, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", UPLOADS_ORIGIN + path);
    xhr.setRequestHeader("Authorization", headers().Authorization);
    xhr.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded / event.total); };
    xhr.onerror = () => reject(new ApiError(0, "NETWORK"));
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (xhr.status >= 200 && xhr.status < 300) { resolve(body); return; }
      const code = body && body.error ? body.error.code : "HTTP_" + xhr.status;
      const error = new ApiError(xhr.status, code, body && body.error ? body.error.message : "");
      const wait = Number(xhr.getResponseHeader("Retry-After"));
      if (Number.isFinite(wait) && wait > 0) error.retryAfterMs = Math.min(wait, 30) * 1000;
      if (xhr.status === 401) listeners.forEach((fn) => fn(error));
      reject(error);
    };
    const form = new FormData();
    form.append("files", blob, fileName);
    xhr.send(form);
  });
}
