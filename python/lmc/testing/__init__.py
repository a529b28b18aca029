"""End-to-end test helpers: case generation, output checking, interpretation."""
