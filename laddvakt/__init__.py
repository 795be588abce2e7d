"""Laddvakt's command line and local tooling: the local stack, the demo, the simulator, benchmarks."""
