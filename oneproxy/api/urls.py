"""/api/ routes: resources, actions, the OpenAPI schema and its docs."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from .account_views import RedeemView, UsageView
from .billing_views import (
    GroupViewSet,
    LogViewSet,
    PriceViewSet,
    RedemptionViewSet,
    TokenViewSet,
    UserViewSet,
)
from .channel_views import ChannelViewSet
from .options_views import OptionViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("users", UserViewSet, basename="user")
router.register("groups", GroupViewSet, basename="group")
router.register("channels", ChannelViewSet, basename="channel")
router.register("tokens", TokenViewSet, basename="token")
router.register("prices", PriceViewSet, basename="price")
router.register("redemptions", RedemptionViewSet, basename="redemption")
router.register("logs", LogViewSet, basename="log")
router.register("options", OptionViewSet, basename="option")

app_name = "api"
urlpatterns = [
    path("redeem/", RedeemView.as_view(), name="redeem"),
    path("usage/", UsageView.as_view(), name="usage"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    *router.urls,
]
