"""API permission classes (kept apart from backoffice.api: DRF imports them while loading its views)."""

from rest_framework.permissions import DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    """Django model permissions, including ``view`` for reads.

    DRF's class lets any authenticated user read; here a user needs the
    model's view permission (a role) to list or retrieve it.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }
