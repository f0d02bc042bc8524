"""Real servers on loopback for the tests: SMTP (aiosmtpd), SendGrid and Mailjet HTTP APIs."""
