// A customer's pages: their loans (each opens on the loan page) and their notifications.

import { get } from "../api.js";
import { badge, day, el, moment, money, pagedList, rate, section, table } from "../dom.js";

export const loanLink = (loan) => el("a", { href: `#/loan/${loan.id}` }, `Loan ${loan.id.slice(0, 8)}`);

/** The columns every loan list shares. */
export const loanColumns = [
  { label: "Loan", value: loanLink },
  { label: "Status", value: (l) => badge(l.status) },
  { label: "Principal", value: (l) => money(l.principal), numeric: true },
  { label: "Rate", value: (l) => rate(l.interest), numeric: true },
  { label: "Months", value: (l) => String(l.months), numeric: true },
  { label: "EMI", value: (l) => money(l.emi), numeric: true },
  { label: "Total payable", value: (l) => money(l.amount), numeric: true },
  { label: "Starts", value: (l) => day(l.start_date) },
];

export function loans() {
  const list = pagedList(
    (page) => get("/api/loan/list-loans-customer", { page }),
    (rows) => table(loanColumns, rows, { empty: "You have no loans yet. An agent requests one for you." }),
  );
  return el("div", {}, el("h1", {}, "My loans"), section("Loans", list));
}

export function notifications() {
  const list = pagedList(
    (page) => get("/api/user/notifications", { page }),
    (rows) =>
      table(
        [
          { label: "When", value: (n) => moment(n.created_at) },
          { label: "Subject", value: (n) => n.subject },
          { label: "Message", value: (n) => n.body },
          { label: "Loan", value: (n) => (n.loan_id ? loanLink({ id: n.loan_id }) : "—") },
          { label: "Emailed", value: (n) => (n.delivered_at ? moment(n.delivered_at) : "not yet") },
        ],
        rows,
        { empty: "No notifications yet." },
      ),
  );
  return el("div", {}, el("h1", {}, "Notifications"), section("Newest first", list));
}
