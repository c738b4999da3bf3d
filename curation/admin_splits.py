"""Admin for split versions: make one (a form that calls the service), freeze, compare two."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path

from curation.admin_exports import split_export_action
from curation.admin_models import split_train_action
from curation.errors import CurationError
from curation.models import Dataset, Split, SplitMember
from curation.services.splits import ratios_parse, split_compare, split_diff_text, split_freeze, split_make


class SplitMakeForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.all())
    name = forms.SlugField(max_length=50, initial="v1", help_text="The version name.")
    ratios = forms.CharField(
        initial="0.8,0.1,0.1", help_text="train,val,test or train=0.7,val=0.15,test=0.15"
    )
    seed = forms.IntegerField(initial=0)
    freeze = forms.BooleanField(required=False, help_text="Freeze now: the version never changes again.")

    def clean_ratios(self):
        try:
            return ratios_parse(self.cleaned_data["ratios"])
        except CurationError as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(Split)
class SplitAdmin(admin.ModelAdmin):
    list_display = ["name", "dataset", "subset_sizes", "verdict_method", "seed", "frozen_at", "created_at"]
    list_filter = ["dataset", ("frozen_at", admin.EmptyFieldListFilter)]
    readonly_fields = [f.name for f in Split._meta.fields]
    actions = ["freeze", "compare", split_export_action, split_train_action]

    @admin.display(description="sizes")
    def subset_sizes(self, obj: Split) -> str:
        return ", ".join(f"{name} {size}" for name, size in obj.sizes.items())

    def has_change_permission(self, request, obj=None):
        return False  # a split changes only through its services (remake, freeze)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and obj.is_frozen)

    def get_urls(self):
        view = self.admin_site.admin_view(self.make_view)
        return [path("make/", view, name="curation_split_make")] + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:curation_split_make")

    def make_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = SplitMakeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                split = split_make(
                    dataset=data["dataset"],
                    name=data["name"],
                    ratios=data["ratios"],
                    seed=data["seed"],
                    freeze=data["freeze"],
                    user=request.user,
                )
            except CurationError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"split {split.name}: {self.subset_sizes(split)}")
                for small in split.stats.get("small_topics", []):
                    messages.warning(
                        request,
                        f"topic {small['topic']!r} has {small['items']} video(s), too few to stratify: "
                        f"kept for training",
                    )
                return redirect("admin:curation_split_changelist")
        context = {**self.admin_site.each_context(request), "form": form, "opts": self.model._meta}
        return render(request, "admin/curation/split/make.html", context)

    @admin.action(description="Freeze the selected splits")
    def freeze(self, request, queryset):
        for split in queryset:
            try:
                split_freeze(split=split)
            except CurationError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"split {split.name} of {split.dataset.slug} is frozen")

    @admin.action(description="Compare two selected splits (older → newer)")
    def compare(self, request, queryset):
        splits = sorted(queryset, key=lambda s: (s.created_at, s.id))
        if len(splits) != 2:
            self.message_user(request, "select exactly two splits to compare", messages.ERROR)
            return None
        try:
            diff = split_compare(old=splits[0], new=splits[1])
        except CurationError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        context = {
            **self.admin_site.each_context(request),
            "old": splits[0],
            "new": splits[1],
            "lines": split_diff_text(diff),
            "opts": self.model._meta,
        }
        return render(request, "admin/curation/split/diff.html", context)


@admin.register(SplitMember)
class SplitMemberAdmin(admin.ModelAdmin):
    list_display = ["video", "split", "subset", "is_noise"]
    list_filter = ["split", "subset", "is_noise"]
    list_select_related = ["video", "split"]
    search_fields = ["video__external_id"]
    readonly_fields = ["split", "video", "subset", "is_noise"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
