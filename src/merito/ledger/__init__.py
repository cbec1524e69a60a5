"""Pure Merkle log maths (RFC 9162)."""
