"""Layer 6, the request API: ``derivatives`` and ``plan``, one checked request run by the engine."""
