"""What crosses a process boundary: messages, errors, headers, roles, the event envelope, settings. msgspec and the standard library only."""
