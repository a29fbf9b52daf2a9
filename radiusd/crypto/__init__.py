"""Secrets at rest (AES-256-GCM key ring) and password hashing (argon2id)."""
