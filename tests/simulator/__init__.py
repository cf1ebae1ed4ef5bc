"""Tests of the meter + gateway simulator."""
