"""Layer 1, the IR: circuits, angles, gates, Pauli products, measurement grouping, OpenQASM, converters."""
