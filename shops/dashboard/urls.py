"""The dashboard's pages, under /dashboard/."""

from django.urls import path

from shops.dashboard.views import base, insights, overview, privacy, widgets
from shops.dashboard.views import experiments as experiment_pages
from shops.dashboard.views import recommendations as recommendation_pages
from shops.dashboard.views import rules as rule_pages

urlpatterns = [
    path("dashboard/enter", base.enter, name="dashboard-enter"),
    path("dashboard/", overview.overview, name="dashboard-overview"),
    path("dashboard/progress", overview.progress, name="dashboard-progress"),
    path("dashboard/insights", insights.insights, name="dashboard-insights"),
    path("dashboard/privacy", privacy.privacy, name="dashboard-privacy"),
    path("dashboard/widgets", widgets.widgets, name="dashboard-widgets"),
    path("dashboard/recommendations", recommendation_pages.recommendations, name="dashboard-recommendations"),
    path(
        "dashboard/recommendations/action",
        recommendation_pages.recommendation_action,
        name="dashboard-recommendation-action",
    ),
    path("dashboard/experiments", experiment_pages.experiments, name="dashboard-experiments"),
    path(
        "dashboard/experiments/<int:experiment_id>/stop",
        experiment_pages.experiment_stop_view,
        name="dashboard-experiment-stop",
    ),
    path("dashboard/rules", rule_pages.rules, name="dashboard-rules"),
    path("dashboard/rules/new", rule_pages.rule_new, name="dashboard-rule-new"),
    path("dashboard/rules/<int:rule_id>", rule_pages.rule_edit, name="dashboard-rule-edit"),
    path("dashboard/rules/<int:rule_id>/action", rule_pages.rule_action, name="dashboard-rule-action"),
]
