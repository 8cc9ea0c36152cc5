"""What every process shares below the actor framework: its NATS connection, the one request
client, token verification and the start-up heap. The edge uses it; it never imports the runtime."""
