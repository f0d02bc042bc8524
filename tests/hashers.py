from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 still, with the smallest costs: the suite creates hundreds of users."""

    time_cost = 1
    memory_cost = 8
    parallelism = 1
