"""Drives the server with the unchanged Open Humans client (open-humans-api 0.2.9).

The Rust test `api::python` runs this script after it has created a project and a
member and run the consent flow. It reads its inputs from the environment:
OHAPI_OH_BASE_URL (read by ohapi when it is imported, so it is checked first),
OH_CLIENT_ID, OH_CLIENT_SECRET, OH_REDIRECT_URI, OH_CODE and OH_MASTER_TOKEN.
Any failed check raises, which makes the process exit non-zero.
"""

import hashlib
import os
import sys
import tempfile

BASE_URL = os.environ["OHAPI_OH_BASE_URL"]

import requests  # noqa: E402
from ohapi import api  # noqa: E402


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def main():
    check(api.OH_BASE_URL == BASE_URL, "ohapi did not pick up OHAPI_OH_BASE_URL")
    client_id = os.environ["OH_CLIENT_ID"]
    client_secret = os.environ["OH_CLIENT_SECRET"]
    redirect_uri = os.environ["OH_REDIRECT_URI"]
    master_token = os.environ["OH_MASTER_TOKEN"]

    # Code exchange, then a refresh: both with HTTP Basic client credentials.
    tokens = api.oauth2_token_exchange(
        client_id, client_secret, redirect_uri, base_url=BASE_URL, code=os.environ["OH_CODE"]
    )
    check(isinstance(tokens["expires_in"], int), "expires_in is not a number")
    tokens = api.oauth2_token_exchange(
        client_id, client_secret, redirect_uri, base_url=BASE_URL,
        refresh_token=tokens["refresh_token"],
    )
    access_token = tokens["access_token"]

    member = api.exchange_oauth2_member(access_token, base_url=BASE_URL)
    project_member_id = member["project_member_id"]
    check(isinstance(project_member_id, str) and len(project_member_id) == 8,
          "project_member_id is not an 8-digit string: %r" % project_member_id)
    check(member["data"] == [], "a new member has files: %r" % member["data"])

    # Direct upload of a real file: start, PUT, complete.
    content = os.urandom(70_000) + b"steps,date\n1200,2024-01-01\n"
    metadata = {
        "description": "Daily step counts",
        "tags": ["steps", "activity"],
        "md5": hashlib.md5(content).hexdigest(),
    }
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "steps 2024.csv")
        with open(path, "wb") as file:
            file.write(content)
        response = api.upload_file(path, metadata, access_token, base_url=BASE_URL)
        check(response.status_code == 200, "completion status %d" % response.status_code)

    member = api.exchange_oauth2_member(access_token, base_url=BASE_URL)
    check(len(member["data"]) == 1, "listing shows %d files" % len(member["data"]))
    listed = member["data"][0]
    check(listed["basename"] == "steps 2024.csv", "basename %r" % listed["basename"])
    check(listed["metadata"]["description"] == "Daily step counts", "metadata lost")
    check(listed["metadata"]["tags"] == ["steps", "activity"], "tags lost")
    check(listed["source"] not in member["sources_shared"], "own file listed as shared")

    download = requests.get(listed["download_url"], stream=True)
    check(download.status_code == 200, "download status %d" % download.status_code)
    check(int(download.headers["Content-Length"]) == len(content), "Content-Length differs")
    check(download.content == content, "downloaded bytes differ")

    # The members list with the master token, followed to its end.
    members = api.get_all_results(
        BASE_URL.rstrip("/")
        + "/api/direct-sharing/project/members/?access_token=" + master_token
    )
    ids = [result["project_member_id"] for result in members]
    check(ids == [project_member_id], "members list %r" % ids)
    check(members[0]["file_count"] == 1, "file_count %r" % members[0]["file_count"])
    check(master_token not in members[0]["exchange_member"], "master token in a URL")
    via_link = api.get_page(members[0]["exchange_member"])
    check([f["id"] for f in via_link["data"]] == [listed["id"]], "exchange_member URL")

    api.delete_file(access_token, project_member_id, base_url=BASE_URL, file_id=listed["id"])
    member = api.exchange_oauth2_member(access_token, base_url=BASE_URL)
    check(member["data"] == [], "the file is still listed after delete_file")

    print("ohapi flow passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # noqa: BLE001
        print("ohapi flow failed: %r" % error, file=sys.stderr)
        raise
