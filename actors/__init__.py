"""loan-actors: the shared actor runtime and the users and loans actors."""
