"""Tests of the vendor and stall registry."""
