// HTTP helpers: the stored access token, JSON calls and the API's error shape.

const TOKEN_KEY = "mage.console.token";

export function getToken() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(token) {
  if (token) {
    localStorage.setItem(TOKEN_KEY, token);
  } else {
    localStorage.removeItem(TOKEN_KEY);
  }
}

/** A failed call: `message` and `validator` come from `{"error": {...}}`. */
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const error = body && body.error ? body.error : {};
    super(error.message || `The request failed with HTTP ${status}.`);
    this.status = status;
    this.code = error.code || status;
    this.validator = error.validator || null;
    this.retryAfter = Number(retryAfter) || 0;
  }
}

/**
 * Call the API with the stored token. `json` sends a JSON body, `form` a
 * FormData (multipart). Returns the parsed body, or null for 204.
 */
export async function api(path, { method = "GET", json, form, signal } = {}) {
  const headers = { Accept: "application/json" };
  const token = getToken();
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { error: { message: "The API cannot be reached. Check the connection." } });
  }
  if (response.status === 204) {
    return null;
  }
  let parsed = null;
  try {
    parsed = await response.json();
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, parsed, response.headers.get("Retry-After"));
  }
  return parsed;
}

/** Return `data` of an enveloped response, or the body itself. */
export function unwrap(body) {
  return body && typeof body === "object" && "data" in body ? body.data : body;
}
