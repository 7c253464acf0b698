"""Tests of publish/."""
