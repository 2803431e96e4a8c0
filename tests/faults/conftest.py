"""Fault-injection suite: stalled clients, signals, kills, abandoned objects, soaks.

The long soaks (60 s stalled client, 20 read passes, 500 connections) are
``benchmarks/faults.py``; these are their short versions.
"""
