"""STS (Security Token Service) 2015-04-01 in the emulator: AssumeRole and
GetCallerIdentity. IMPLEMENTED.md lists the actions and their limits.
"""
