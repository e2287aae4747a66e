"""Tooling outside the runtime: scenario simulation, the demo loader and the benchmarks (clients of the engine
facade; the benches also seed their databases in bulk through the store)."""
