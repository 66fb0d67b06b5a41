"""Rasa input channels of LPSE Assist (registered in ``credentials.yml`` by module path)."""
