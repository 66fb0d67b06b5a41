"""Custom actions of LPSE Assist, one module per topic."""
