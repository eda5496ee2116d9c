"""Layer 2, planning: shift rules and the planner (which shifted circuits, and how to combine them)."""
