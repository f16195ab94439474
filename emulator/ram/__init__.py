"""RAM (Resource Access Management) 2015-05-01 in the emulator.

``models.RamBackend`` changes the account state, ``responses`` registers the wire
handlers and ``exceptions`` contains one class per RAM error code. IMPLEMENTED.md
lists the actions.
"""
