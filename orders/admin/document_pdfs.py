"""PDF downloads and e-mail buttons of the order documents (``orders.documents_pdf``, ``orders.services.documents``).

Mixed into the document admins: each adds ``actions_detail`` buttons. A PDF opens for whoever may view the
document, in their warehouses only: another warehouse's document (or a missing one) is "not found" (404),
like the HTML packing slip.
"""

from __future__ import annotations

from django import forms
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action
from unfold.widgets import UnfoldAdminEmailInputWidget

from backoffice.admin_tools import is_valid_pk
from backoffice.money import format_money
from orders import documents_pdf, services
from orders.models import SalesOrderStatus


def pdf_response(document: documents_pdf.PdfDocument, *, download: bool = False) -> HttpResponse:
    response = HttpResponse(document.content, content_type=documents_pdf.CONTENT_TYPE)
    disposition = "attachment" if download else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{document.filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class PdfDocumentsMixin:
    """``pdf_view(request, object_id, render)``: the document's PDF, permission- and warehouse-checked."""

    def has_print_permission(self, request, obj=None):
        return self.has_view_or_change_permission(request)

    def pdf_view(self, request, object_id, render) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if not is_valid_pk(self.model, unquote(str(object_id))):
            raise Http404(f"No such {self.opts.verbose_name}.")
        # get_queryset is warehouse-scoped: another warehouse's document is not found.
        document = self.get_object(request, unquote(str(object_id)))
        if document is None:
            raise Http404(f"No such {self.opts.verbose_name}.")
        return pdf_response(render(document), download=request.GET.get("download") == "1")


class ConfirmationEmailForm(forms.Form):
    to = forms.EmailField(
        label=_("Send to"),
        max_length=254,
        widget=UnfoldAdminEmailInputWidget,
        help_text=_("The customer's e-mail address; change it to send this copy elsewhere."),
    )


class SalesOrderDocumentsMixin(PdfDocumentsMixin):
    """Sales order: the order confirmation (quote while a draft) as PDF, and e-mailed to the customer."""

    def has_email_confirmation_permission(self, request, obj=None):
        return request.user.has_perm("orders.confirm_salesorder")

    @action(description=_("PDF"), url_path="confirmation-pdf", permissions=["print"], icon="picture_as_pdf")
    def confirmation_pdf(self, request, object_id):
        return self.pdf_view(request, object_id, documents_pdf.sales_order_pdf)

    @action(
        description=_("E-mail confirmation"),
        url_path="email-confirmation",
        permissions=["email_confirmation"],
        icon="forward_to_inbox",
    )
    def email_confirmation(self, request, object_id):
        order = self.workflow_document_or_404(request, object_id)
        if isinstance(order, HttpResponse):
            return order
        title = documents_pdf.sales_order_title(order)
        form = ConfirmationEmailForm(
            request.POST if request.method == "POST" else None, initial={"to": order.customer.email}
        )
        if request.method == "POST" and form.is_valid():
            ok, _result = self.call_service(
                request,
                services.sales_order_email_confirmation,
                order=order,
                user=request.user,
                to=form.cleaned_data["to"],
                success=_("%(title)s %(order)s is being e-mailed to %(to)s with the PDF attached.")
                % {"title": title, "order": order, "to": form.cleaned_data["to"]},
            )
            return self.redirect_to_document(order)
        last = ""
        if order.confirmation_emailed_at:
            last = _("Last e-mailed to %(to)s on %(when)s by %(who)s.") % {
                "to": order.confirmation_emailed_to,
                "when": order.confirmation_emailed_at.strftime("%Y-%m-%d %H:%M"),
                "who": order.confirmation_emailed_by or "?",
            }
        intro = _("The customer receives the %(what)s as a PDF attachment (%(file)s).") % {
            "what": title.lower(),
            "file": f"{'quote' if title == 'Quote' else 'confirmation'}-{order.number}.pdf",
        }
        return self.render_workflow(
            request,
            order,
            title=_("E-mail %(what)s") % {"what": title.lower()},
            form=form,
            submit_label=_("Send e-mail"),
            intro=f"{intro} {last}".strip(),
            refusal=_("This order is cancelled.") if order.status == SalesOrderStatus.CANCELLED else "",
            summary=[
                (_("Customer"), order.customer),
                (_("Status"), order.get_status_display()),
                (_("Total"), format_money(order.total)),
                (_("Customer reference"), order.customer_reference),
            ],
        )


class PurchaseOrderDocumentsMixin(PdfDocumentsMixin):
    """Purchase order: its PDF (the one *Send PO* e-mails to the supplier)."""

    @action(description=_("PDF"), url_path="pdf", permissions=["print"], icon="picture_as_pdf")
    def purchase_order_pdf(self, request, object_id):
        return self.pdf_view(request, object_id, documents_pdf.purchase_order_pdf)


class ShipmentDocumentsMixin(PdfDocumentsMixin):
    """Shipment: packing slip (for packing) and delivery note (travels with the goods) as PDF."""

    @action(
        description=_("Packing slip PDF"), url_path="packing-slip-pdf", permissions=["print"], icon="picture_as_pdf"
    )
    def packing_slip_pdf(self, request, object_id):
        return self.pdf_view(request, object_id, documents_pdf.packing_slip_pdf)

    @action(description=_("Delivery note PDF"), url_path="delivery-note-pdf", permissions=["print"], icon="description")
    def delivery_note_pdf(self, request, object_id):
        return self.pdf_view(request, object_id, documents_pdf.delivery_note_pdf)


def send_po_message(po) -> str:
    """What *Send PO* says happened: e-mailed to whom, or that the supplier has no address."""
    if po.emailed_to:
        return _("%(po)s sent to %(supplier)s: the PDF is being e-mailed to %(to)s.") % {
            "po": po,
            "supplier": po.supplier.name,
            "to": po.emailed_to,
        }
    return _(
        "%(po)s marked as sent, but %(supplier)s has no e-mail address, so nothing was e-mailed: "
        "download the PDF and send it yourself, or add the supplier's e-mail address."
    ) % {"po": po, "supplier": po.supplier.name}
