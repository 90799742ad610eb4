"""The /api/v1/ root: one router collecting every app's viewsets."""

from rest_framework.routers import DefaultRouter

from inventory.api import register as register_inventory

router = DefaultRouter()
register_inventory(router)

urlpatterns = router.urls
