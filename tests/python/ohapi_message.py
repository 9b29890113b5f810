"""Sends project messages with the unchanged Open Humans client (open-humans-api 0.2.9).

The Rust test `messaging::python` runs this script after it has created a project with
members, and then checks what the SMTP server received. It reads its inputs from the
environment: OHAPI_OH_BASE_URL (read by ohapi when it is imported), OH_ACCESS_TOKEN
(a member's token), OH_MASTER_TOKEN, OH_LISTED_IDS (two comma-separated project member
ids that may be messaged) and OH_DENIED_ID (a member who did not grant the message
permission). Any failed check raises, which makes the process exit non-zero.
"""

import os

BASE_URL = os.environ["OHAPI_OH_BASE_URL"]

from ohapi import api  # noqa: E402


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def main():
    check(api.OH_BASE_URL == BASE_URL, "ohapi did not pick up OHAPI_OH_BASE_URL")
    access_token = os.environ["OH_ACCESS_TOKEN"]
    master_token = os.environ["OH_MASTER_TOKEN"]
    listed = os.environ["OH_LISTED_IDS"].split(",")
    denied = os.environ["OH_DENIED_ID"]

    # A member token messages its own member; the client sends subject and message only.
    response = api.message("From a member token", "Hi {{ PROJECT_MEMBER_ID }}", access_token)
    check(response.json() == "success", "member token: %r" % response.text)

    # The master token with a list: the client repeats project_member_ids per id.
    response = api.message(
        "To a list", "Listed {{ PROJECT_MEMBER_ID }}", master_token,
        project_member_ids=listed,
    )
    check(response.json() == "success", "list: %r" % response.text)

    response = api.message("To all", "All {{ PROJECT_MEMBER_ID }}", master_token,
                           all_members=True)
    check(response.json() == "success", "all members: %r" % response.text)

    # A member without the message permission makes the client raise, naming the id.
    try:
        api.message("Refused", "Nobody", master_token, project_member_ids=[denied])
    except Exception as error:  # ohapi raises a bare Exception for every non-200.
        check("400" in str(error) and denied in str(error), "unexpected error: %s" % error)
    else:
        raise AssertionError("messaging a member without permission did not raise")

    print("ohapi message flow passed")


if __name__ == "__main__":
    main()
