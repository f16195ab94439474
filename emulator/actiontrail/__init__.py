"""ActionTrail 2020-07-06: event lookup, AccessKey audit and trails."""
