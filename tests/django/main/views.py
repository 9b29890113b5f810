"""The demo app's own pages: what a project built on django-open-humans shows its
members. Logging in and deauthorization are left to the package's views."""

import io

from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from openhumans.models import OpenHumansMember


def current_member(request):
    """Returns the OpenHumansMember of the logged-in user, or None."""
    if not request.user.is_authenticated:
        return None
    return OpenHumansMember.objects.filter(user=request.user).first()


def index(request):
    return render(
        request,
        "main/index.html",
        {"member": current_member(request), "auth_url": OpenHumansMember.get_auth_url()},
    )


def files(request):
    member = current_member(request)
    # A deauthorized member's tokens no longer work, so there is nothing to list.
    if member is None or member.oh_deauth:
        return redirect("index")
    return render(request, "main/files.html", {"member": member, "files": member.list_files()})


@require_POST
def upload(request):
    member = current_member(request)
    if member is None or member.oh_deauth:
        return redirect("index")
    uploaded = request.FILES.get("file")
    if uploaded is None:
        return render(
            request,
            "main/files.html",
            {"member": member, "files": member.list_files(), "error": "Choose a file to upload."},
            status=400,
        )
    member.upload(
        stream=io.BytesIO(uploaded.read()),
        filename=uploaded.name,
        metadata={"description": "Uploaded from the demo app", "tags": ["demo"]},
    )
    return redirect("files")


def status(request):
    """Return what this app stores about the logged-in user, as JSON."""
    if not request.user.is_authenticated:
        return JsonResponse({"logged_in": False, "member": None})
    member = current_member(request)
    return JsonResponse(
        {
            "logged_in": True,
            "username": request.user.username,
            "member": None
            if member is None
            else {"oh_id": member.oh_id, "oh_deauth": member.oh_deauth},
        }
    )
