// Render helpers. Every value from the API goes into the page as text (text nodes, textContent,
// attributes): nothing here parses HTML, so a name like `<img onerror=…>` stays a name.

import { explain } from "./api.js";

/** An element: attrs are attributes (`on…` functions become listeners), children text or nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "value") node.value = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

let ids = 0;
export const uniqueId = (stem) => `${stem}-${++ids}`;

/** "1234567.5" → "1,234,567.50": the API's decimal strings, formatted without floating point. */
export function money(value) {
  if (value === null || value === undefined || value === "") return "—";
  const text = String(value).trim();
  const negative = text.startsWith("-");
  const [whole, fraction = ""] = text.replace(/^[-+]/, "").split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}${grouped}.${(fraction + "00").slice(0, 2)}`;
}

export const rate = (value) => (value === null || value === undefined ? "—" : `${money(value)} %`);
export const day = (value) => (value ? String(value).slice(0, 10) : "—");
export const moment = (value) => (value ? String(value).replace("T", " ").slice(0, 16) + " UTC" : "—");
export const fullName = (person) => `${person.first_name ?? ""} ${person.last_name ?? ""}`.trim();

/** A table; a column is {label, value(row) → text or node, numeric?}. Money columns are numeric. */
export function table(columns, rows, { caption, empty = "Nothing here yet." } = {}) {
  if (!rows.length) return el("p", { class: "empty" }, empty);
  const head = el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c.numeric ? "num" : null }, c.label)));
  const body = rows.map((row) =>
    el("tr", {}, columns.map((c) => el("td", { class: c.numeric ? "num" : null, "data-label": c.label }, c.value(row)))),
  );
  return el(
    "div",
    { class: "table-wrap" },
    el("table", {}, caption ? el("caption", {}, caption) : null, el("thead", {}, head), el("tbody", {}, body)),
  );
}

/** A labelled input: returns the wrapper; the input is `.input` on it. */
export function field(label, attrs = {}, hint = "") {
  const id = uniqueId(attrs.name ?? "field");
  const hintId = hint ? `${id}-hint` : null;
  const input =
    attrs.type === "select"
      ? el("select", { id, name: attrs.name }, (attrs.options ?? []).map(([v, t]) => el("option", { value: v }, t)))
      : el("input", { id, type: "text", ...attrs, "aria-describedby": hintId });
  if (attrs.type === "select" && attrs.value !== undefined) input.value = attrs.value;
  const wrap = el("div", { class: "field" }, el("label", { for: id }, label), input, hint ? el("small", { id: hintId }, hint) : null);
  wrap.input = input;
  return wrap;
}

export function button(text, onclick, { kind = "primary", type = "button", label } = {}) {
  return el("button", { type, class: `btn ${kind}`, onclick, "aria-label": label }, text);
}

/** A message box: kind "error" (with what to do), "ok" or "info". */
export function notice(kind, message, advice = "") {
  return el(
    "div",
    { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" },
    el("p", {}, message),
    advice ? el("p", { class: "advice" }, advice) : null,
  );
}

export function errorNotice(error) {
  const { message, advice } = explain(error);
  return notice("error", message, advice);
}

/** A form whose submit runs `action`; its messages go to the form's own status line. */
export function form(fields, submitText, action, { extra = [] } = {}) {
  const status = el("div", { class: "form-status" });
  const submit = button(submitText, null, { type: "submit" });
  const node = el("form", { novalidate: true }, fields, el("div", { class: "actions" }, submit, extra), status);
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    replace(status);
    try {
      const said = await action();
      if (said) replace(status, notice("ok", said));
    } catch (error) {
      replace(status, errorNotice(error));
    } finally {
      submit.disabled = false;
    }
  });
  node.status = status;
  return node;
}

/** Previous / next for a list envelope (`count`, `page`, `page_size`). */
export function pager(envelope, goTo) {
  const pages = Math.max(1, Math.ceil((envelope.count ?? 0) / (envelope.page_size || 20)));
  const page = envelope.page ?? 1;
  const previous = button("Previous", () => goTo(page - 1), { kind: "secondary" });
  const next = button("Next", () => goTo(page + 1), { kind: "secondary" });
  previous.disabled = page <= 1;
  next.disabled = page >= pages;
  const where = el("span", {}, `Page ${page} of ${pages} · ${envelope.count ?? 0} in all`);
  return el("nav", { class: "pager", "aria-label": "Pages" }, previous, where, next);
}

/** A list with its pager: `load(page)` gives the envelope, `render(rows)` the nodes. */
export function pagedList(load, render) {
  const node = el("div", { class: "paged" });
  const show = (page) =>
    fill(node, async () => {
      const envelope = await load(page);
      return [render(envelope.data ?? [], envelope), pager(envelope, show)];
    });
  show(1);
  node.reload = () => show(1);
  return node;
}

export function section(title, ...children) {
  return el("section", { class: "card" }, el("h2", {}, title), children);
}

/** Loading text while `load()` runs, then its nodes, or the error in words. */
export async function fill(node, load) {
  replace(node, el("p", { class: "loading" }, "Loading…"));
  try {
    replace(node, await load());
  } catch (error) {
    replace(node, errorNotice(error));
  }
}

export function badge(text) {
  return el("span", { class: `badge ${String(text).toLowerCase().replace(/[^a-z0-9]+/g, "-")}` }, text);
}
