"""The replication harness: runner, results, claims, book, scorecard."""
