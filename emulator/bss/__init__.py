"""Emulated BSS OpenAPI 2017-12-14: bills from the scenario and from running
instances, and the account balance."""
