"""Test support shared by the tests and the bench: real processes of the platform."""
