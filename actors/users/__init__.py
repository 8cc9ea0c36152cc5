"""The users actor: sign-up, login, roles, agent approval, and the public keys of its tokens."""
