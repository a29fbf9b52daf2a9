"""Code delivery: email over SMTP, SMS over an HTTP gateway or a local program.

Every sender is asynchronous, bounded by a timeout per attempt and a few retries, and raises
DeliveryError with a cause fit for the audit (never the code itself).
"""
