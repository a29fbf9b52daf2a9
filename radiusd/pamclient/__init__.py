"""The PAM helper: what pam_radiusd.so runs for each login (`python -I -m radiusd.pamclient`).

It reads the PAM items from the module, asks radiusd over RADIUS (Message-Authenticator, several
servers with failover), and drives the user's prompts through the module's PAM conversation.
"""
