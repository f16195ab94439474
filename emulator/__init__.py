"""A local Alibaba Cloud for akresponder's tests, demo and benchmarks.

The unmodified official SDKs talk to it over HTTP: RAM, STS, ActionTrail, BSS OpenAPI,
SLS and a small part of ECS, with real signatures, state, error codes and faults.
"""
