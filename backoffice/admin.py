"""Admin registrations of the project app (autodiscovered after the libraries' own admins)."""

# feedback_admin and job_admin (the Imports and Exports lists) register with @admin.register.
from backoffice import feedback_admin, job_admin, signin_admin, user_admin  # noqa: F401

signin_admin.register()
user_admin.register()
