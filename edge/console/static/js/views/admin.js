// An admin's pages: the agents' approval inbox, loans awaiting a decision, every loan, close of
// business and the portfolio with its chart.

import { del, get, post, put } from "../api.js";
import { badge, button, day, el, errorNotice, field, fill, form, fullName, money, notice, pagedList, replace, section, table } from "../dom.js";
import { bucketChart } from "./chart.js";
import { loanColumns } from "./customer.js";
import { figure } from "./quote.js";

/** Buttons in a row share one status line: the outcome of the last one pressed. */
function actionRow(status, actions) {
  return el(
    "div",
    { class: "actions" },
    actions.map(([text, kind, label, run]) =>
      button(
        text,
        async () => {
          try {
            replace(status, notice("ok", await run()));
          } catch (error) {
            replace(status, errorNotice(error));
          }
        },
        { kind, label },
      ),
    ),
  );
}

export function agents() {
  const status = el("div", { class: "inbox-status" });
  let inbox;
  let everyone;
  const reload = () => {
    inbox.reload();
    everyone.reload();
  };
  const decideAgent = (agent, approve, limit) => async () => {
    const body = { is_approved: approve };
    if (approve) body.lending_limit = limit.input.value.trim() || null;
    await put(`/api/user/approve-delete/${agent.id}`, body);
    reload();
    return `${fullName(agent)} is ${approve ? "approved" : "rejected"}.`;
  };
  const remove = (agent) => async () => {
    await del(`/api/user/approve-delete/${agent.id}`);
    reload();
    return `${fullName(agent)} is deleted and can no longer sign in.`;
  };
  inbox = pagedList(
    (page) => get("/api/user/list-approvals", { page }),
    (rows) =>
      table(
        [
          { label: "Name", value: fullName },
          { label: "Email", value: (a) => a.email },
          { label: "Signed up", value: (a) => day(a.created_at) },
          {
            label: "Decision",
            value: (a) => {
              const limit = field("Lending limit (empty: none)", { name: "lending_limit", inputmode: "decimal" });
              return el(
                "div",
                { class: "decision" },
                limit,
                actionRow(status, [
                  ["Approve", "primary", `Approve ${fullName(a)}`, decideAgent(a, true, limit)],
                  ["Reject", "secondary", `Reject ${fullName(a)}`, decideAgent(a, false, null)],
                  ["Delete", "danger", `Delete ${fullName(a)}`, remove(a)],
                ]),
              );
            },
          },
        ],
        rows,
        { empty: "No agent is waiting for approval." },
      ),
  );
  everyone = pagedList(
    (page) => get("/api/user/list-users", { role: "agent", page }),
    (rows) =>
      table(
        [
          { label: "Name", value: fullName },
          { label: "Email", value: (a) => a.email },
          { label: "Status", value: (a) => badge(a.status) },
          { label: "Lending limit", value: (a) => (a.lending_limit ? money(a.lending_limit) : "none"), numeric: true },
          {
            label: "Action",
            value: (a) =>
              actionRow(status, [
                a.status === "active"
                  ? ["Reject", "secondary", `Reject ${fullName(a)}`, decideAgent(a, false, null)]
                  : ["Approve", "secondary", `Approve ${fullName(a)}`, decideAgent(a, true, { input: { value: "" } })],
                ["Delete", "danger", `Delete ${fullName(a)}`, remove(a)],
              ]),
          },
        ],
        rows,
        { empty: "No agents yet." },
      ),
  );
  return el("div", {}, el("h1", {}, "Agents"), status, section("Waiting for approval (oldest first)", inbox), section("All agents", everyone));
}

export function decisions() {
  const status = el("div", { class: "inbox-status" });
  let list;
  const decide = (loan, decision) => async () => {
    await put(`/api/loan/approve-reject-loan/${loan.id}`, { status: decision });
    list.reload();
    return `Loan ${loan.id.slice(0, 8)} is ${decision === "APPROVED" ? "approved" : "rejected"}.`;
  };
  list = pagedList(
    (page) => get("/api/loan/list-loans-admin-agent", { status: "NEW", page }),
    (rows) =>
      table(
        [
          // narrower than the other lists, so the decision buttons fit at 1440 px without scrolling
          ...loanColumns.filter((c) => !["Rate", "Starts", "Total payable"].includes(c.label)),
          { label: "Customer", value: (l) => l.customer_name ?? l.customer_email },
          { label: "Agent", value: (l) => l.agent_email },
          {
            label: "Decision",
            value: (l) =>
              actionRow(status, [
                ["Approve", "primary", `Approve loan ${l.id.slice(0, 8)}`, decide(l, "APPROVED")],
                ["Reject", "danger", `Reject loan ${l.id.slice(0, 8)}`, decide(l, "REJECTED")],
              ]),
          },
        ],
        rows,
        { empty: "No loan is waiting for a decision." },
      ),
  );
  return el("div", {}, el("h1", {}, "Loans to decide"), status, section("Waiting (newest change first)", list));
}

export function allLoans() {
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
        (page) => get("/api/loan/list-loans-admin-agent", { status: status.input.value, page }),
        (rows) => table([...loanColumns, { label: "Customer", value: (l) => l.customer_name ?? l.customer_email }], rows, { empty: "No loans." }),
      ),
    );
  status.input.addEventListener("change", show);
  show();
  return el("div", {}, el("h1", {}, "All loans"), section("Loans", status, holder));
}

export function closeOfBusiness() {
  const today = el("div");
  const progress = el("div", { "aria-live": "polite" });
  const showDate = () => fill(today, async () => {
    const { data } = await get("/api/servicing/business-date");
    return el("dl", { class: "figures" }, figure("Business date", day(data.business_date)));
  });
  const date = field("Close the books up to", { name: "date", type: "date", required: true });
  const runForm = form([date], "Run close of business", async () => {
    let { data } = await post("/api/servicing/close-of-business", { date: date.input.value });
    const started = Date.now();
    while (data.status !== "DONE" && Date.now() - started < 120_000) {
      replace(progress, runFigures(data));
      await new Promise((resolve) => setTimeout(resolve, 500));
      ({ data } = await get(`/api/servicing/close-of-business/${date.input.value}`));
    }
    replace(progress, runFigures(data));
    showDate();
    return data.status === "DONE" ? `Close of business to ${day(data.date)} is done.` : "Still running: look again in a moment.";
  });
  showDate();
  return el("div", { class: "narrow" }, el("h1", {}, "Close of business"), section("Today", today), section("Run", runForm, progress));
}

function runFigures(run) {
  return el(
    "dl",
    { class: "figures", "data-testid": "cob-run" },
    figure("Date", day(run.date)),
    figure("Status", run.status),
    figure("Batches done", `${run.batches_done} of ${run.batches}`),
    figure("Accounts", String(run.accounts)),
  );
}

export function portfolio() {
  const body = el("div");
  fill(body, async () => {
    const { data } = await get("/api/servicing/portfolio");
    return [
      section(
        `As of ${day(data.business_date)}`,
        el(
          "dl",
          { class: "figures" },
          figure("Active accounts", String(data.active)),
          figure("Closed accounts", String(data.closed)),
          figure("Outstanding principal", money(data.outstanding_principal)),
          figure("Collected principal", money(data.collected_principal)),
          figure("Collected interest", money(data.collected_interest)),
        ),
      ),
      section(
        "Outstanding principal by delinquency bucket",
        bucketChart(data.buckets),
        table(
          [
            { label: "Bucket", value: (b) => b.bucket },
            { label: "Accounts", value: (b) => String(b.accounts), numeric: true },
            { label: "Outstanding principal", value: (b) => money(b.outstanding_principal), numeric: true },
          ],
          data.buckets,
          { empty: "No accounts yet." },
        ),
      ),
    ];
  });
  return el("div", {}, el("h1", {}, "Portfolio"), body);
}
