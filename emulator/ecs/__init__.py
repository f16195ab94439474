"""Emulated ECS 2014-05-26: regions and pay-as-you-go instances that accrue charges."""
