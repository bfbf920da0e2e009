from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """A landing page for the operator: what is running and where to go. Shows no shop data."""
    return render(request, "home.html")
