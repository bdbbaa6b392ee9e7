"""The IASC MHPSS intervention pyramid: a property of the activity, not of
the person (one person can be served on several layers at once)."""

from enum import StrEnum


class IascLayer(StrEnum):
    """Bottom (1) to top (4), in IOM Iraq's wording."""

    basic_services = "basic_services"
    community_family = "community_family"
    focused_non_specialized = "focused_non_specialized"
    specialized = "specialized"

    @property
    def number(self) -> int:
        return list(IascLayer).index(self) + 1

    @property
    def label(self) -> str:
        return IASC_LABELS[self]


IASC_LABELS = {
    IascLayer.basic_services: "Social considerations in basic services and security",
    IascLayer.community_family: "Community and family support",
    IascLayer.focused_non_specialized: "Focused, non-specialized support",
    IascLayer.specialized: "Specialized services",
}
