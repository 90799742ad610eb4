from django.core.management.base import BaseCommand

from backoffice.roles import roles_setup


class Command(BaseCommand):
    help = "Create or refresh the role groups (Admin, Manager, Sales, Purchasing, Warehouse, Viewer)."

    def handle(self, *args, **options):
        for role, count in roles_setup().items():
            self.stdout.write(f"{role}: {count} permissions")
        self.stdout.write(self.style.SUCCESS("Roles are up to date."))
