"""Who may annotate: members of the `crowdworkers` group (staff too, to try the tasks)."""

from rest_framework.permissions import BasePermission

CROWDWORKERS_GROUP = "crowdworkers"


def is_crowdworker(user) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    return user.is_staff or user.groups.filter(name=CROWDWORKERS_GROUP).exists()


class IsCrowdworker(BasePermission):
    message = "Only crowdworkers can take and answer annotation tasks."

    def has_permission(self, request, view) -> bool:
        return is_crowdworker(request.user)
