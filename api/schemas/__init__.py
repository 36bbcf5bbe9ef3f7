"""Pydantic models of request and response bodies. The response models document what the database builds: each
response is json built in SQL with its keys in the model's order, and tests/api/test_contract.py checks every
endpoint's real responses against its model, key by key and in order."""
