// The live quote beside a loan form: asks GET /api/loan/quote as the agent types (debounced).

import { get } from "../api.js";
import { el, errorNotice, money, rate, replace } from "../dom.js";

const WAIT_MS = 300; // a pause in typing, so each keystroke does not cost a request

/** A panel that follows the two inputs; `.refresh()` asks again at once. */
export function liveQuote(principalInput, monthsInput) {
  const panel = el("div", { class: "quote", "aria-live": "polite", "data-testid": "quote" });
  let timer = null;
  let asked = 0;
  const ask = async () => {
    const principal = principalInput.value.trim();
    const months = monthsInput.value.trim();
    if (!principal || !months) {
      replace(panel, el("p", { class: "muted" }, "Enter a principal and a number of months to see the quote."));
      return;
    }
    const mine = ++asked; // only the newest answer is shown, whatever order they arrive in
    try {
      const { data } = await get("/api/loan/quote", { principal, months });
      if (mine !== asked) return;
      replace(
        panel,
        el(
          "dl",
          { class: "figures" },
          figure("Rate", rate(data.interest)),
          figure("Monthly payment (EMI)", money(data.emi)),
          figure("Total payable", money(data.amount)),
        ),
      );
    } catch (error) {
      if (mine === asked) replace(panel, errorNotice(error));
    }
  };
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(ask, WAIT_MS);
  };
  principalInput.addEventListener("input", soon);
  monthsInput.addEventListener("input", soon);
  panel.refresh = ask;
  ask();
  return panel;
}

export function figure(label, value) {
  return el("div", { class: "figure" }, el("dt", {}, label), el("dd", {}, value));
}
