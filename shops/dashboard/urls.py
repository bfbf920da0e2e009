"""The dashboard's pages, under /dashboard/."""

from django.urls import path

from shops.dashboard.views import base, insights, overview, privacy

urlpatterns = [
    path("dashboard/enter", base.enter, name="dashboard-enter"),
    path("dashboard/", overview.overview, name="dashboard-overview"),
    path("dashboard/insights", insights.insights, name="dashboard-insights"),
    path("dashboard/privacy", privacy.privacy, name="dashboard-privacy"),
]
