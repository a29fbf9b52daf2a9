"""radiusd: one two-factor authentication engine behind RADIUS, PAM, LDAP and Crowd front doors."""

__version__ = "0.1.0"
