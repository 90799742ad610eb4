"""Admin registrations of the project app (autodiscovered after the libraries' own admins)."""

from backoffice import feedback_admin, signin_admin  # noqa: F401 (feedback_admin registers with @admin.register)

signin_admin.register()
