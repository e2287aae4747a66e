"""Tooling outside the runtime: scenario simulation, the demo loader and the benchmarks (clients of the engine facade)."""
