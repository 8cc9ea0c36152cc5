"""What every process shares below the actor framework: its NATS connection, token verification, the start-up heap."""
