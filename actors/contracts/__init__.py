"""What crosses a process boundary: messages, errors, headers, roles, the event envelope and the
settings a process is started with. Imports msgspec and the standard library only, so the edge,
every actor and every tool can speak through it without loading I/O libraries."""
