"""Whole-fleet runs on this machine: the process launcher (make up/down), the scripted purchase (make run),
the chaos run and the benchmark."""
