"""openesp: a self-hosted Email Service Provider."""
