"""LPSE Assist: project code that is not a custom action (settings, channels, NLU components)."""
