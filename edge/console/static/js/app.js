// The console's entry: hash routes (#/loans, #/loan/<id>, …) per role, the nav, and sign-out.

import { clearSession, session, whenExpired } from "./api.js";
import { el, fullName, replace } from "./dom.js";
import * as admin from "./views/admin.js";
import * as agent from "./views/agent.js";
import * as auth from "./views/auth.js";
import * as customer from "./views/customer.js";
import { loanPage } from "./views/loan.js";

// Per role: the nav (path, label) and the views by route name.
const ROLES = {
  customer: {
    nav: [["#/loans", "My loans"], ["#/notifications", "Notifications"]],
    views: { loans: customer.loans, notifications: customer.notifications },
  },
  agent: {
    nav: [["#/customers", "Customers"], ["#/request", "New loan"], ["#/requests", "My requests"], ["#/notifications", "Notifications"]],
    views: { customers: agent.customers, request: agent.request, requests: agent.requests, notifications: customer.notifications },
  },
  admin: {
    nav: [["#/agents", "Agents"], ["#/decisions", "Loans to decide"], ["#/loans-all", "All loans"], ["#/cob", "Close of business"], ["#/portfolio", "Portfolio"]],
    views: { agents: admin.agents, decisions: admin.decisions, "loans-all": admin.allLoans, cob: admin.closeOfBusiness, portfolio: admin.portfolio },
  },
};

const main = document.getElementById("main");
const flash = document.getElementById("flash");

/** A message that outlives the next route change (sign-out, an expired session). */
let sayFresh = false;
export function say(kind, text) {
  sayFresh = Boolean(text);
  replace(flash, text ? el("p", { class: `flash-${kind}` }, text) : null);
}

export function go(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

function drawHeader(signedIn, current) {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  if (!signedIn) {
    replace(nav);
    replace(who);
    return;
  }
  const links = ROLES[signedIn.user.role]?.nav ?? [];
  replace(
    nav,
    el("ul", {}, links.map(([href, label]) => el("li", {}, el("a", { href, "aria-current": href === current ? "page" : null }, label)))),
  );
  const signOut = el("button", { type: "button", class: "btn secondary", onclick: signOutNow }, "Sign out");
  replace(who, el("span", {}, `${fullName(signedIn.user)} · ${signedIn.user.role}`), signOut);
}

function signOutNow() {
  clearSession();
  say("info", "You are signed out.");
  go("#/signin");
}

function route() {
  if (!sayFresh) replace(flash); // a message lasts for the page change that follows it
  sayFresh = false;
  const [name = "", ...rest] = window.location.hash.replace(/^#\/?/, "").split("/");
  const signedIn = session();
  const context = { session: signedIn, go, say, main };
  if (!signedIn) {
    drawHeader(null);
    const view = name === "signup" ? auth.signUp : auth.signIn;
    return show(view, context);
  }
  const role = ROLES[signedIn.user.role];
  if (name === "signin" || name === "signup" || !name) return go(role.nav[0][0]);
  drawHeader(signedIn, `#/${name}`);
  if (name === "loan" && rest[0]) return show((ctx) => loanPage(ctx, rest[0]), context);
  const view = role.views[name];
  if (!view) return show(() => el("p", { class: "empty" }, "There is no such page. Pick one from the menu."), context);
  return show(view, context);
}

function show(view, context) {
  replace(main, view(context));
  main.focus({ preventScroll: true }); // a keyboard user starts at the new page's top
}

whenExpired((message) => {
  say("error", `Your session has ended (${message}). Please sign in again.`);
  go("#/signin");
});
window.addEventListener("hashchange", () => {
  if (!window.location.hash.startsWith("#/") && window.location.hash !== "") return; // an in-page link
  route();
});
route();
