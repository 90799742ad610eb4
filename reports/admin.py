"""Admin of the reports app."""

from reports import schedule_admin  # noqa: F401 - scheduled reports and their runs
