"""First-factor backends: where the password is checked (local argon2id, PAM, LDAP, or none)."""
