"""Tests of scheduler/."""
