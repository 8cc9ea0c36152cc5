// One loan: its terms, schedule, statement, payoff quote and repayments, with what the
// signed-in role may do to it (decide, edit, record or reverse a repayment).

import { get, post, put } from "../api.js";
import { badge, button, day, el, errorNotice, field, fill, form, moment, money, notice, rate, replace, section, table } from "../dom.js";
import { figure, liveQuote } from "./quote.js";

export function loanPage(context, loanId) {
  const page = el("div", { class: "loan-page" });
  const refresh = (message) => fill(page, () => build(context, loanId, refresh, message));
  refresh();
  return page;
}

async function build(context, loanId, refresh, message) {
  const role = context.session.user.role;
  const { data: loan } = await get(`/api/loan/${loanId}`);
  const parts = [
    el("p", {}, el("a", { href: backLink(role) }, "← Back to the list")),
    el("h1", {}, `Loan ${loan.id.slice(0, 8)} `, badge(loan.status)),
    message ? notice("ok", message) : null,
    terms(loan),
  ];
  if (role === "admin" && loan.status === "NEW") parts.push(decide(loan, refresh));
  if (role === "agent" && loan.agent_id === context.session.user.id && loan.status !== "APPROVED") {
    parts.push(edit(loan, refresh));
  }
  if (loan.status === "APPROVED") {
    const servicing = el("div");
    fill(servicing, () => account(loan, role, refresh));
    parts.push(servicing);
  }
  // Once approved, the statement's installments say the same and more: the schedule folds away.
  const schedule = el("div");
  fill(schedule, async () => scheduleTable((await get(`/api/loan/${loanId}/schedule`)).data.rows));
  const folded = el("details", { open: loan.status !== "APPROVED" }, el("summary", {}, `${loan.months} monthly payments`), schedule);
  parts.push(section("Schedule", folded));
  return parts;
}

const backLink = (role) => ({ customer: "#/loans", agent: "#/requests", admin: "#/loans-all" })[role] ?? "#/";

function terms(loan) {
  return section(
    "Terms",
    el(
      "dl",
      { class: "figures" },
      figure("Customer", `${loan.customer_name ?? ""} (${loan.customer_email ?? ""})`),
      figure("Agent", loan.agent_email ?? "—"),
      figure("Principal", money(loan.principal)),
      figure("Rate", rate(loan.interest)),
      figure("Months", String(loan.months)),
      figure("EMI", money(loan.emi)),
      figure("Total payable", money(loan.amount)),
      figure("Start", day(loan.start_date)),
      figure("End", day(loan.end_date)),
      figure("Version", String(loan.version)),
    ),
  );
}

function decide(loan, refresh) {
  const status = el("div");
  const choose = (decision) => async () => {
    try {
      await put(`/api/loan/approve-reject-loan/${loan.id}`, { status: decision });
      refresh(decision === "APPROVED" ? "The loan is approved." : "The loan is rejected.");
    } catch (error) {
      replace(status, errorNotice(error));
    }
  };
  return section(
    "Decision",
    el("p", {}, "This loan waits for an admin's decision."),
    el("div", { class: "actions" }, button("Approve", choose("APPROVED")), button("Reject", choose("REJECTED"), { kind: "danger" })),
    status,
  );
}

function edit(loan, refresh) {
  const principal = field("Principal", { name: "principal", inputmode: "decimal", value: loan.principal, required: true });
  const months = field("Months", { name: "months", type: "number", min: 1, max: 480, value: String(loan.months), required: true });
  const quote = liveQuote(principal.input, months.input);
  const editForm = form([principal, months, quote], "Save changes", async () => {
    await put(`/api/loan/edit-loan/${loan.id}`, { principal: principal.input.value.trim(), months: Number(months.input.value) });
    refresh(loan.status === "REJECTED" ? "Saved: the loan is submitted again." : "Saved.");
    return null;
  });
  return section("Edit the request", editForm);
}

async function account(loan, role, refresh) {
  const { data: statement } = await get(`/api/loan/${loan.id}/statement`);
  const parts = [statementSection(statement)];
  if (role !== "customer" && statement.status === "ACTIVE") parts.push(record(loan, statement.business_date, refresh));
  parts.push(payoff(loan, statement.business_date), repayments(loan, role, refresh));
  return parts;
}

function statementSection(s) {
  const summary = el(
    "dl",
    { class: "figures" },
    figure("Account", s.status),
    figure("Business date", day(s.business_date)),
    figure("Outstanding principal", money(s.outstanding_principal)),
    figure("Paid principal", money(s.paid_principal)),
    figure("Paid interest", money(s.paid_interest)),
    figure("Waived interest", money(s.waived_interest)),
    figure("Days past due", String(s.days_past_due)),
    figure("Bucket", s.bucket),
    figure("Next due", s.next_due ? `${money(s.next_due.amount)} on ${day(s.next_due.date)}` : "—"),
    figure("Closed on", day(s.closed_on)),
  );
  const installments = table(
    [
      { label: "#", value: (i) => String(i.number), numeric: true },
      { label: "Due", value: (i) => day(i.due_date) },
      { label: "Payment", value: (i) => money(i.payment), numeric: true },
      { label: "Interest", value: (i) => money(i.interest), numeric: true },
      { label: "Principal", value: (i) => money(i.principal), numeric: true },
      { label: "Paid interest", value: (i) => money(i.paid_interest), numeric: true },
      { label: "Paid principal", value: (i) => money(i.paid_principal), numeric: true },
      { label: "State", value: (i) => badge(i.status) },
    ],
    s.installments,
  );
  const count = s.installments.length;
  return section("Statement", summary, el("details", {}, el("summary", {}, `Installments (${count})`), installments));
}

function payoff(loan, businessDate) {
  const on = field("Pay off on", { name: "on", type: "date", value: businessDate, min: businessDate, required: true });
  const answer = el("div", { "aria-live": "polite" });
  const quoteForm = form([on], "Get payoff quote", async () => {
    const { data } = await get(`/api/loan/${loan.id}/payoff`, { on: on.input.value });
    replace(
      answer,
      el(
        "dl",
        { class: "figures", "data-testid": "payoff" },
        figure("On", day(data.on)),
        figure("Outstanding principal", money(data.outstanding_principal)),
        figure("Interest", money(data.interest)),
        figure("Total to pay off", money(data.total)),
      ),
    );
    return null;
  });
  return section("Payoff quote", quoteForm, answer);
}

function repayments(loan, role, refresh) {
  const list = el("div");
  fill(list, async () => {
    const { data } = await get(`/api/loan/${loan.id}/repayments`, { page_size: 100 });
    const columns = [
      { label: "Paid on", value: (t) => day(t.paid_on) },
      { label: "Amount", value: (t) => money(t.amount), numeric: true },
      { label: "Reference", value: (t) => t.reference ?? "—" },
      { label: "Recorded", value: (t) => moment(t.recorded_at) },
      { label: "State", value: (t) => (t.reversed ? `reversed: ${t.reversal_reason ?? ""}` : "counted") },
    ];
    if (role === "admin") columns.push({ label: "Action", value: (t) => (t.reversed ? "—" : reverse(loan, t, refresh)) });
    return table(columns, data, { empty: "No repayments yet." });
  });
  return section("Repayments", list);
}

function reverse(loan, transaction, refresh) {
  const reason = field("Reason", { name: "reason", maxlength: 500, required: true });
  return form([reason], "Reverse", async () => {
    await post(`/api/loan/${loan.id}/repayments/${transaction.id}/reverse`, { reason: reason.input.value.trim() });
    refresh("The repayment is reversed; the account is as if it had never been paid.");
    return null;
  });
}

function record(loan, businessDate, refresh) {
  const amount = field("Amount", { name: "amount", inputmode: "decimal", required: true }, "Two decimals at most, e.g. 4359.83.");
  const paidOn = field("Paid on", { name: "paid_on", type: "date", value: businessDate, max: businessDate });
  const reference = field("Reference (optional)", { name: "reference", maxlength: 100 });
  const recordForm = form([amount, paidOn, reference], "Record repayment", async () => {
    const body = { amount: amount.input.value.trim() };
    if (paidOn.input.value) body.paid_on = paidOn.input.value;
    if (reference.input.value.trim()) body.reference = reference.input.value.trim();
    const { data } = await post(`/api/loan/${loan.id}/repayments`, body);
    refresh(`Recorded a repayment of ${money(data.amount)}.`);
    return null;
  });
  return section("Record a repayment", recordForm);
}

export function scheduleTable(rows) {
  return table(
    [
      { label: "Month", value: (r) => String(r.month), numeric: true },
      { label: "Due", value: (r) => day(r.due_date) },
      { label: "Payment", value: (r) => money(r.payment), numeric: true },
      { label: "Interest", value: (r) => money(r.interest), numeric: true },
      { label: "Principal", value: (r) => money(r.principal), numeric: true },
      { label: "Balance", value: (r) => money(r.balance), numeric: true },
    ],
    rows,
  );
}
