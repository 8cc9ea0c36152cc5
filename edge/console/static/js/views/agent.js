// An agent's pages: find a customer, request a loan with a live quote, and their own requests.

import { get, post } from "../api.js";
import { button, el, field, form, fullName, pagedList, replace, section, table } from "../dom.js";
import { loanColumns } from "./customer.js";
import { liveQuote } from "./quote.js";

export function customers({ go }) {
  const query = field("Name or email", { name: "q", type: "search", autocomplete: "off" });
  const results = el("div");
  const search = () =>
    replace(
      results,
      pagedList(
        (page) => get("/api/user/list-agents", { q: query.input.value.trim(), page }),
        (rows) =>
          table(
            [
              { label: "Name", value: fullName },
              { label: "Email", value: (c) => c.email },
              { label: "Since", value: (c) => String(c.created_at).slice(0, 10) },
              { label: "Action", value: (c) => button("Request a loan", () => go(`#/request/${c.id}`), { kind: "secondary", label: `Request a loan for ${fullName(c)}` }) },
            ],
            rows,
            { empty: "No customer matches." },
          ),
      ),
    );
  const searchForm = form([query], "Search", async () => {
    search();
    return null;
  });
  search();
  return el("div", {}, el("h1", {}, "Customers"), section("Find a customer", searchForm, results));
}

export function request({ go }) {
  const chosen = window.location.hash.split("/")[2] ?? "";
  const customer = field("Customer id", { name: "customer_id", value: chosen, required: true }, "Pick one on the Customers page, or paste an id.");
  const principal = field("Principal", { name: "principal", inputmode: "decimal", required: true }, "10,000 to 100,000,000; the rate follows the amount.");
  const months = field("Months", { name: "months", type: "number", min: 1, max: 480, required: true });
  const quote = liveQuote(principal.input, months.input);
  const requestForm = form([customer, principal, months, quote], "Request loan", async () => {
    const { data } = await post("/api/loan/customer-loan", {
      customer_id: customer.input.value.trim(),
      principal: principal.input.value.trim(),
      months: Number(months.input.value),
    });
    go(`#/loan/${data.id}`);
    return null;
  });
  return el("div", { class: "narrow" }, el("h1", {}, "New loan request"), section("Terms", requestForm));
}

export function requests({ session }) {
  const status = field("Status", {
    name: "status",
    type: "select",
    options: [["", "any"], ["NEW", "NEW"], ["APPROVED", "APPROVED"], ["REJECTED", "REJECTED"]],
  });
  const holder = el("div");
  const show = () =>
    replace(
      holder,
      pagedList(
        (page) => get("/api/loan/list-loans-admin-agent", { agent_id: session.user.id, status: status.input.value, page }),
        (rows) => table([...loanColumns, { label: "Customer", value: (l) => l.customer_name ?? l.customer_email }], rows, { empty: "No requests yet." }),
      ),
    );
  status.input.addEventListener("change", show);
  show();
  return el("div", {}, el("h1", {}, "My requests"), section("Loans I requested", status, holder));
}
