"""Real third-party peers driven from the tests (never mocks)."""
