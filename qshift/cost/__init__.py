"""Layer 5, cost and shots: estimates, the ``max_cost`` guard, shot allocation and sampling strategies."""
