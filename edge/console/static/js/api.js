// The one way the console talks to the system: the REST API of api.md, on this origin.
// The token lives in sessionStorage (gone when the tab closes), never in a cookie or localStorage.

const KEY = "loans.console.session";
let onExpired = () => {};

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details ?? null;
  }
}

export function session() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) ?? "null");
    return saved && typeof saved.token === "string" && saved.user ? saved : null;
  } catch {
    return null;
  }
}

export function saveSession(token, user) {
  sessionStorage.setItem(KEY, JSON.stringify({ token, user }));
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

/** Called with the API's message when a signed-in call answers 401 (expired or bad token). */
export function whenExpired(handler) {
  onExpired = handler;
}

function urlOf(path, query) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  return url;
}

/** The envelope of a successful call (`data`, and `count`/`page` for lists); throws ApiError. */
export async function call(method, path, { body, query } = {}) {
  const signedIn = session();
  const headers = { Accept: "application/json" };
  if (signedIn) headers.Authorization = `Bearer ${signedIn.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(urlOf(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "network", "The console could not reach the server.");
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (response.ok) return payload ?? {};
  const message = payload?.message ?? `The server answered ${response.status}.`;
  const error = new ApiError(response.status, payload?.error?.code ?? "unknown", message, payload?.error?.details);
  if (response.status === 401 && signedIn) {
    clearSession();
    onExpired(message);
  }
  throw error;
}

export const get = (path, query) => call("GET", path, { query });
export const post = (path, body) => call("POST", path, { body });
export const put = (path, body) => call("PUT", path, { body });
export const del = (path) => call("DELETE", path);

// What a person can do about each error code, beside the API's own message.
const ADVICE = {
  network: "Check that the system is running (`loans up`) and try again.",
  validation_error: "Correct the value and try again.",
  unauthenticated: "Check your email and password, or sign in again.",
  forbidden: "Your account may not do this. Ask an admin if you think it should.",
  agent_not_approved: "An admin has to approve your agent account first. Try again once they have.",
  over_agent_limit: "Ask for a smaller principal, or ask an admin to raise your lending limit.",
  not_found: "It may have been removed, or you may not see it. Go back to the list and reload.",
  conflict: "Someone changed it first. Reload the page to see where it stands.",
  email_taken: "Sign in with that email instead, or use another one.",
  loan_not_editable: "An approved loan cannot be changed.",
  loan_already_decided: "Another admin decided it first. Reload the list to see where it stands.",
  loan_not_active: "Only approved loans take repayments and have a statement.",
  loan_closed: "The loan is paid off: nothing more can be paid.",
  overpayment: "Pay at most the payoff amount.",
  payload_too_large: "Send less text.",
  rate_limited: "Too many attempts. Wait a minute, then try again.",
  service_unavailable: "Part of the system is down or starting. Wait a moment and try again.",
  timeout: "The system is slow to answer. Try again in a moment.",
};

/** The error in words a person understands, and what to do about it. */
export function explain(error) {
  if (!(error instanceof ApiError)) return { message: "Something went wrong in the console.", advice: String(error) };
  let message = error.message;
  if (error.code === "validation_error" && error.details?.field) {
    message = `The value of “${error.details.field}” was not accepted: ${error.message}`;
  }
  if (error.code === "overpayment" && error.details?.payoff && !message.includes(error.details.payoff)) {
    message = `${message} (the payoff is ${error.details.payoff})`;
  }
  message = message.charAt(0).toUpperCase() + message.slice(1);
  if (!/[.!?)]$/.test(message)) message += ".";
  return { message, advice: ADVICE[error.code] ?? (error.status >= 500 ? ADVICE.service_unavailable : "") };
}
