"""Benchmarks for concadvisor: accuracy of the split, cost of profiling, truth of the estimates."""
