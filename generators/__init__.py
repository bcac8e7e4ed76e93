"""Procedural video generators with exact amodal ground truth (numpy only; never imports torch)."""
