"""Exports of trained models: frozen graphs, TFLite flatbuffers and their metadata."""
