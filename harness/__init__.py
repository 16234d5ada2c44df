"""What the tests and the benchmarks share: real processes and a real redis-server."""
