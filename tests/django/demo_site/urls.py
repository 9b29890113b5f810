from django.urls import include, path

from main import views

urlpatterns = [
    path("", views.index, name="index"),
    path("files/", views.files, name="files"),
    path("upload/", views.upload, name="upload"),
    path("me.json", views.status, name="status"),
    # The package's views: complete (the OAuth2 redirect URI) and deauth (the
    # deauthorization webhook).
    path("openhumans/", include("openhumans.urls")),
]
