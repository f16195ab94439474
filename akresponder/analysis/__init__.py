"""Investigation library: pure functions over ActionTrail events and BSS bills."""
