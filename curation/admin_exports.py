"""Admin for exports: the jobs with their progress, a form that requests one, downloads (staff only)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html_join

from curation.errors import CurationError
from curation.models import Dataset, ExportFormat, ExportJob, Split
from curation.services.exports import ExportFileNotFound, export_file_get, export_request


class ExportRequestForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.all())
    split = forms.ModelChoiceField(
        queryset=Split.objects.exclude(frozen_at=None).select_related("dataset"),
        required=False,
        help_text="A frozen split version; leave empty to export every video of the dataset.",
    )
    format = forms.ChoiceField(choices=ExportFormat.choices)

    def clean(self):
        data = super().clean()
        split = data.get("split")
        if split is not None and data.get("dataset") is not None and split.dataset_id != data["dataset"].id:
            raise forms.ValidationError(f"split {split.name} belongs to dataset {split.dataset.slug}")
        return data


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "dataset",
        "split",
        "format",
        "status",
        "percent",
        "rows",
        "created_at",
        "finished_at",
    ]
    list_filter = ["dataset", "format", "status"]
    list_select_related = ["dataset", "split"]
    readonly_fields = [*(f.name for f in ExportJob._meta.fields if f.name != "manifest"), "files"]
    exclude = ["manifest"]

    @admin.display(description="progress")
    def percent(self, obj: ExportJob) -> str:
        return f"{obj.progress:.0%}"

    @admin.display(description="rows")
    def rows(self, obj: ExportJob) -> str:
        return f"{obj.rows_done:,} / {obj.rows_total:,}"

    @admin.display(description="files")
    def files(self, obj: ExportJob) -> str:
        if obj.status != ExportJob.Status.DONE:
            return "Offered when the export is done."
        names = ["manifest.json", *obj.manifest.get("files", {})]
        return format_html_join(
            "",
            '<div><a href="{}">{}</a></div>',
            ((reverse("admin:curation_exportjob_file", args=[obj.id, name]), name) for name in names),
        )

    def has_change_permission(self, request, obj=None):
        return False  # a job changes only through its services

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("request/", wrap(self.request_view), name="curation_exportjob_request"),
            path("<int:job_id>/files/<path:name>", wrap(self.file_view), name="curation_exportjob_file"),
        ] + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:curation_exportjob_request")

    def request_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ExportRequestForm(request.POST or None, initial=request.GET.dict())
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                job = export_request(
                    dataset=data["dataset"], split=data["split"], format=data["format"], user=request.user
                )
            except CurationError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"export job {job.id}: {job.status}")
                return redirect("admin:curation_exportjob_changelist")
        context = {**self.admin_site.each_context(request), "form": form, "opts": self.model._meta}
        return render(request, "admin/curation/exportjob/request.html", context)

    def file_view(self, request, job_id: int, name: str):
        if not request.user.is_staff:
            raise PermissionDenied
        job = get_object_or_404(ExportJob, id=job_id)
        try:
            path = export_file_get(job=job, name=name)
        except ExportFileNotFound as exc:
            raise Http404(str(exc)) from None
        return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)  # noqa: SIM115


@admin.action(description="Export the selected frozen splits (pick the format next)")
def split_export_action(modeladmin, request, queryset):
    """For the split admin: opens the request form for the first selected split."""
    split = queryset.first()
    if split is None:
        messages.warning(request, "no split selected")
        return None
    url = reverse("admin:curation_exportjob_request")
    return redirect(f"{url}?dataset={split.dataset_id}&split={split.id}")
