"""Tests of diff/."""
