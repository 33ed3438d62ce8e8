"""Test support: real servers on free ports, unique AWS resources, polling helpers."""
