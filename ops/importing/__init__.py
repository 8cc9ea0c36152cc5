"""`loans import django`: the monolith's users, loans and history, handed to the actors (design.md §13)."""
