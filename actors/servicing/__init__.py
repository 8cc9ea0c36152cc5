"""The servicing actor (design.md §11): the approved loan's repayments, payoff and delinquency."""
