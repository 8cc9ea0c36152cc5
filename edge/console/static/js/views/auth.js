// Sign in and sign up: the only pages a visitor without a session sees.

import { post, saveSession } from "../api.js";
import { el, field, form, notice, replace, section } from "../dom.js";

export function signIn({ go, say }) {
  const email = field("Email", { name: "email", type: "email", autocomplete: "username", required: true });
  const password = field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const signInForm = form([email, password], "Sign in", async () => {
    const { data } = await post("/api/user/login", { email: email.input.value.trim(), password: password.input.value });
    saveSession(data.access_token, data.user);
    say(null);
    go("#/");
  });
  return el(
    "div",
    { class: "narrow" },
    el("h1", {}, "Sign in"),
    section("Your account", signInForm),
    el("p", {}, "New here? ", el("a", { href: "#/signup" }, "Create an account"), "."),
  );
}

export function signUp({ go, say }) {
  const first = field("First name", { name: "first_name", autocomplete: "given-name", required: true, maxlength: 100 });
  const last = field("Last name", { name: "last_name", autocomplete: "family-name", required: true, maxlength: 100 });
  const email = field("Email", { name: "email", type: "email", autocomplete: "email", required: true });
  const password = field(
    "Password",
    { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 8 },
    "8 to 72 characters.",
  );
  const role = field("I am", {
    name: "role",
    type: "select",
    options: [
      ["customer", "a customer (I borrow)"],
      ["agent", "an agent (I request loans for customers)"],
    ],
  });
  const result = el("div");
  const signUpForm = form([first, last, email, password, role], "Create account", async () => {
    const { data } = await post("/api/user/signup", {
      first_name: first.input.value.trim(),
      last_name: last.input.value.trim(),
      email: email.input.value.trim(),
      password: password.input.value,
      role: role.input.value,
    });
    if (data.access_token) {
      saveSession(data.access_token, data.user);
      say("ok", "Welcome! Your account is ready.");
      go("#/");
      return null;
    }
    replace(
      result,
      notice("ok", "Your agent account is waiting for an admin's approval.", "You can sign in once an admin has approved it."),
    );
    return null;
  });
  return el(
    "div",
    { class: "narrow" },
    el("h1", {}, "Create an account"),
    section("About you", signUpForm, result),
    el("p", {}, "Have an account? ", el("a", { href: "#/signin" }, "Sign in"), "."),
  );
}
