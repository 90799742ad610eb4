"""API permission classes (kept apart from backoffice.api: DRF imports them while loading its views)."""

from rest_framework.permissions import DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    """Django model permissions, including ``view`` for reads.

    DRF's class lets any authenticated user read; here a user needs the
    model's view permission (a role) to list or retrieve it.

    Extra actions (``POST …/{id}/confirm/``) need the model's ``view`` permission plus what the
    viewset lists for them in ``action_permissions`` (the admin's workflow permissions); an action
    not listed there needs the permission of its HTTP method, like any other request.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view):
        extra = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if extra is None:
            return super().has_permission(request, view)
        if not request.user or (not request.user.is_authenticated and self.authenticated_users_only):
            return False
        if getattr(view, "_ignore_model_permissions", False):
            return True
        model = self._queryset(view).model
        view_perm = f"{model._meta.app_label}.view_{model._meta.model_name}"
        return request.user.has_perms([view_perm, *extra])
