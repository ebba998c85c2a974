"""Bakeoff's shared package (the Lambda layer): contracts, errors, storage, Converse, pricing."""
